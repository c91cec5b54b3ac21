import ArgumentParser
@main struct Timbre: ParsableCommand {}
