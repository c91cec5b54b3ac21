// HDF5 exposes its type and property constants as C macros over globals, which Swift cannot
// import (and Swift 6 rejects the globals as not concurrency-safe). These inline functions
// give Swift a typed way to reach them.
#include <hdf5.h>

static inline hid_t timbre_H5T_NATIVE_FLOAT(void) { return H5T_NATIVE_FLOAT; }
static inline hid_t timbre_H5T_NATIVE_DOUBLE(void) { return H5T_NATIVE_DOUBLE; }
static inline hid_t timbre_H5T_NATIVE_INT16(void) { return H5T_NATIVE_INT16; }
static inline hid_t timbre_H5T_NATIVE_INT32(void) { return H5T_NATIVE_INT32; }
static inline hid_t timbre_H5T_NATIVE_INT64(void) { return H5T_NATIVE_INT64; }
static inline hid_t timbre_H5T_C_S1(void) { return H5T_C_S1; }
static inline hid_t timbre_H5P_FILE_ACCESS(void) { return H5P_FILE_ACCESS; }
static inline hid_t timbre_H5P_DATASET_CREATE(void) { return H5P_DATASET_CREATE; }
static inline hid_t timbre_H5S_ALL(void) { return H5S_ALL; }
static inline hid_t timbre_H5P_DEFAULT(void) { return H5P_DEFAULT; }
static inline unsigned timbre_H5F_ACC_TRUNC(void) { return H5F_ACC_TRUNC; }
static inline unsigned timbre_H5F_ACC_RDONLY(void) { return H5F_ACC_RDONLY; }
static inline size_t timbre_H5T_VARIABLE(void) { return H5T_VARIABLE; }
static inline herr_t timbre_H5_silence_errors(void) { return H5Eset_auto2(H5E_DEFAULT, NULL, NULL); }
static inline const char *timbre_H5_version(void) { return H5_VERS_INFO; }
static inline hid_t timbre_H5T_STD_I16LE(void) { return H5T_STD_I16LE; }
static inline hid_t timbre_H5T_STD_I64LE(void) { return H5T_STD_I64LE; }
static inline hid_t timbre_H5T_IEEE_F32LE(void) { return H5T_IEEE_F32LE; }
static inline hid_t timbre_H5T_IEEE_F64LE(void) { return H5T_IEEE_F64LE; }
static inline hid_t timbre_H5S_SCALAR_create(void) { return H5Screate(H5S_SCALAR); }
