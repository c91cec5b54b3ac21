#!/usr/bin/env bash
# The main job: from a fresh Debian 12 machine to a corpus, a trained VAE, a trained MM-DiT,
# samples of voice design, cloning and tuning, and an evaluation report.
#
#   Recipes/quickstart.sh          the quick run (about 20 minutes on 2 cores; the models are a
#                                  smoke test of the whole pipeline, not a voice)
#   Recipes/quickstart.sh --full   the `small` corpus with vae-small-pitch-sinc and dit-small-pitch (hours)
#
# Every stage leaves a stamp in the run folder and is skipped when run again; training resumes
# from its last checkpoint, so an interrupted run continues where it stopped.
set -euo pipefail
cd "$(dirname "$0")/.."

full=0
for a in "$@"; do
  case "$a" in
    --full) full=1 ;;
    -h|--help) sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "quickstart: unknown argument '$a' (expected --full or --help)" >&2; exit 2 ;;
  esac
done
if [ "$full" = 1 ]; then
  name=quickstart-full corpus=small vae_recipe=vae-small-pitch-sinc dit_recipe=dit-small-pitch
else
  name=quickstart corpus=quick vae_recipe=vae-quick dit_recipe=dit-quick
fi
run="Checkpoints/$name"
mkdir -p "$run"
t_all=$(date +%s)
timings="$run/timings.txt"

# stage NAME COMMAND…: runs COMMAND unless NAME's stamp exists; records its wall-clock time.
stage() {
  local s="$1"; shift
  if [ -f "$run/.done-$s" ]; then echo "== $s: done earlier (remove $run/.done-$s to redo)"; return; fi
  echo "== $s"
  cur_stage=$s cur_t0=$(date +%s)
  "$@"
  local dt=$(( $(date +%s) - cur_t0 ))
  echo "$s $dt" >> "$timings"
  cur_stage=
  touch "$run/.done-$s"
  echo "== $s: ${dt} s"
}

# A stage that fails or is interrupted still logs the time it ran, so the closing table counts
# every run of a resumed stage.
cur_stage=
trap '[ -z "$cur_stage" ] || echo "$cur_stage $(( $(date +%s) - cur_t0 ))" >> "$timings"' EXIT
# Ctrl-C: the trainer saves a checkpoint and exits cleanly; stop here too (no stamp is written).
trap 'echo "quickstart: interrupted; run it again to continue where it stopped" >&2; exit 130' INT TERM

# train KIND RECIPE OUT ARGS…: trains (resuming when OUT holds checkpoints) and fails unless the
# recipe's last step was reached, so a run stopped early is resumed next time, never stamped.
train() {
  local kind="$1" recipe="$2" out="$3"; shift 3
  "$bin" train "$kind" --recipe "$recipe" --out "$out" --resume auto "$@"
  local steps
  steps=$(grep -o '"steps": *[0-9]*' "$recipe" | head -1 | grep -o '[0-9]*$')
  [ -d "$out/$(printf 'step-%08d' "$steps")" ] || { echo "quickstart: $out stopped before step $steps; run again to resume" >&2; return 1; }
}

setup() { TIMBRE_SETUP_PYTHON=0 source Recipes/setup.sh; }
setup  # always: cheap when everything is present, and it puts the speaker encoder in place
echo "== build (release)"
swift build -c release 2>&1 | grep -Ev "^\[[0-9]+/[0-9]+\] (Compiling|Write|Emitting)" || true
bin="$(swift build -c release --show-bin-path)/timbre"
[ -x "$bin" ] || { echo "quickstart: the build did not produce $bin" >&2; exit 1; }

data="$run/corpus" lat="$run/latents" vae="$run/vae" dit="$run/dit" rep="$run/report"
[ "$full" = 1 ] && [ -f Datasets/out/small/manifest.json ] && data=Datasets/out/small

stage corpus     bash -c "[ -f '$data/manifest.json' ] || '$bin' corpus build --recipe Datasets/$corpus.json --out '$data'; '$bin' corpus info '$data'"
stage train-vae  train vae "Recipes/$vae_recipe.json" "$vae" --data "$data"
stage encode     bash -c "rm -rf '$lat' && '$bin' vae encode --checkpoint '$vae' --data '$data' --out '$lat'"
stage train-dit  train dit "Recipes/$dit_recipe.json" "$dit" --data "$lat" --vae "$vae"
stage samples    "$bin" eval --recipe Recipes/samples.json --checkpoint "$dit" --vae "$vae" --data "$data" --out "$rep/samples"
reports=("$rep/samples")
rel=Checkpoints/released
if [ -f "$rel/dit-small-pitch/release.json" ] && [ -f "$rel/vae-small-pitch-sinc-adv/release.json" ] && [ "$full" = 0 ]; then
  stage samples-released "$bin" eval --recipe Recipes/samples.json --checkpoint "$rel/dit-small-pitch" --vae "$rel/vae-small-pitch-sinc-adv" \
    --data "$data" --out "$rep/samples-released"
  reports+=("$rep/samples-released")
fi
stage eval-vae   "$bin" eval --recipe Recipes/eval-vae.json --vae "$vae" --each-checkpoint --data "$data" --out "$rep/vae"
stage eval-dit   "$bin" eval --recipe Recipes/eval-dit.json --checkpoint "$dit" --vae "$vae" --data "$data" --out "$rep/dit"
reports+=("$rep/vae" "$rep/dit")

if [ "$full" = 1 ]; then
  note="Trained by Recipes/quickstart.sh --full: the small corpus, vae-small-pitch-sinc and dit-small-pitch."
else
  note="These models were trained for minutes on a small synthetic-plus-telephone corpus: they are a smoke test of the whole pipeline (data, VAE, latents, MM-DiT, sampling, evaluation), not a voice. Expect buzzy, barely intelligible audio. Recipes/quickstart.sh --full trains the small recipes (hours); Checkpoints/released holds trained ones."
  [ -d "$rep/samples-released" ] && note="$note The 'Samples' report of the released models shows what those sound like."
fi
"$bin" report-index --out "$rep" --title "Timbre $name" --note "$note" "${reports[@]}"
echo "== stage times on this machine (s; a resumed stage counts all its runs):"
awk '!($1 in t) { order[n++] = $1 } { t[$1] += $2 } END { for (i = 0; i < n; i++) printf "  %-17s %6d\n", order[i], t[order[i]] }' "$timings"
total=$(awk '{ t += $2 } END { print t + 0 }' "$timings")
echo "== quickstart finished: this run $(( $(date +%s) - t_all )) s, the stages over all runs $total s; open $rep/index.html"
