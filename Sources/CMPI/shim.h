// The MPI standard's C API, through functions Swift can call: MPI_COMM_WORLD, MPI_FLOAT and the
// other handles are macros (Open MPI) or integer constants (MPICH) that Swift does not import.
// Only MPI-1/2 calls are used, so any MPI library (Open MPI, MPICH) works.
#include <mpi.h>

static inline int timbre_mpi_init(void) {
    int ready = 0;
    MPI_Initialized(&ready);
    if (ready) return MPI_SUCCESS;
    // Worker threads compute; only the main thread calls MPI.
    int provided = 0;
    int code = MPI_Init_thread(NULL, NULL, MPI_THREAD_FUNNELED, &provided);
    // Errors come back as codes (and a rank that cannot go on calls MPI_Abort), never a silent
    // default handler's exit inside a collective.
    if (code == MPI_SUCCESS) MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
    return code;
}
static inline int timbre_mpi_finalize(void) { return MPI_Finalize(); }
static inline int timbre_mpi_rank(void) { int r = 0; MPI_Comm_rank(MPI_COMM_WORLD, &r); return r; }
static inline int timbre_mpi_size(void) { int n = 1; MPI_Comm_size(MPI_COMM_WORLD, &n); return n; }
static inline int timbre_mpi_abort(int code) { return MPI_Abort(MPI_COMM_WORLD, code); }
static inline int timbre_mpi_barrier(void) { return MPI_Barrier(MPI_COMM_WORLD); }
static inline double timbre_mpi_wtime(void) { return MPI_Wtime(); }

static inline int timbre_mpi_allreduce_sum_float(float *x, int count) {
    return MPI_Allreduce(MPI_IN_PLACE, x, count, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
}
static inline int timbre_mpi_allreduce_sum_double(double *x, int count) {
    return MPI_Allreduce(MPI_IN_PLACE, x, count, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD);
}
static inline int timbre_mpi_allreduce_max_double(double *x, int count) {
    return MPI_Allreduce(MPI_IN_PLACE, x, count, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
}
static inline int timbre_mpi_bcast_bytes(void *x, int count, int root) {
    return MPI_Bcast(x, count, MPI_BYTE, root, MPI_COMM_WORLD);
}
static inline int timbre_mpi_gather_bytes(const void *send, int count, void *recv, int root) {
    return MPI_Gather(send, count, MPI_BYTE, recv, count, MPI_BYTE, root, MPI_COMM_WORLD);
}
static inline int timbre_mpi_gatherv_bytes(const void *send, int count, void *recv, const int *counts, const int *displs, int root) {
    return MPI_Gatherv(send, count, MPI_BYTE, recv, counts, displs, MPI_BYTE, root, MPI_COMM_WORLD);
}
static inline const char *timbre_mpi_error_string(int code, char *buffer) {
    int n = 0;
    MPI_Error_string(code, buffer, &n);
    return buffer;
}
static inline const char *timbre_mpi_library_version(char *buffer) {
    int n = 0;
    MPI_Get_library_version(buffer, &n);
    return buffer;
}
enum { TIMBRE_MPI_MAX_ERROR_STRING = MPI_MAX_ERROR_STRING, TIMBRE_MPI_MAX_LIBRARY_VERSION_STRING = MPI_MAX_LIBRARY_VERSION_STRING };
