// OpenSSL's libcrypto, for SHA-256 content hashes (checkpoints, latent shards).
#include <openssl/evp.h>
