// Checks a PEM CA bundle named by a config (backendCaFile): the file must be readable and hold
// at least one certificate, every PEM block of it parsing. The error says why, never the contents.
#ifndef VALET_COMMON_CA_FILE_CHECK_H_
#define VALET_COMMON_CA_FILE_CHECK_H_

#include <string>

#include "absl/status/status.h"

namespace valet {

absl::Status CheckCaFile(const std::string& path);

}  // namespace valet

#endif  // VALET_COMMON_CA_FILE_CHECK_H_
