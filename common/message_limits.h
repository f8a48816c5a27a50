// Size limits shared by every program, so that what one side sends the other accepts.
//
// A snapshot carries every app, and ListApps returns them all: both must fit one gRPC message.
// The control plane refuses a change whose snapshot would exceed kMaxSnapshotBytes; every gRPC
// server and client (control plane, data plane, valetctl) accepts messages up to
// kMaxGrpcMessageBytes, which leaves room for the envelope around a snapshot-sized payload.
// docs/config.md and docs/controlplane.md state the same numbers; keep them in step.
#ifndef VALET_COMMON_MESSAGE_LIMITS_H_
#define VALET_COMMON_MESSAGE_LIMITS_H_

#include <cstddef>
#include <cstdint>

namespace valet {

inline constexpr size_t kMaxSnapshotBytes = 32u << 20;     // 32 MiB of serialized apps.
inline constexpr size_t kMaxGrpcMessageBytes = 40u << 20;  // Snapshot plus envelope.

// A config nests a handful of levels (app -> endpoints -> endpoint); anything deeper is refused
// while parsing, before it can cost stack or memory.
inline constexpr size_t kMaxJsonDepth = 32;

// A JSON list of a config field holds at most this many elements unless the field's own limit
// (common/app_config_json.cc) says otherwise; a longer one is refused before it is read.
inline constexpr size_t kMaxJsonArrayElements = 1024;

// Field sizes, checked by validation (common/app_config_validation.cc).
inline constexpr size_t kMaxDescriptionBytes = 4096;
inline constexpr size_t kMaxCaFilePathBytes = 4096;  // backendCaFile.
inline constexpr size_t kMaxAuthKeyBytes = 1024;
inline constexpr size_t kMaxHeaderNameBytes = 256;
inline constexpr size_t kMaxEndpointPathBytes = 2048;
inline constexpr size_t kMaxEndpointsPerApp = 1024;
inline constexpr size_t kMaxConsumersPerApp = 100000;
inline constexpr size_t kMaxConsumerNameBytes = 64;

// Mocks (docs/mocks.md): also the most a recording keeps of one answer's body.
inline constexpr size_t kMaxMocksPerApp = 256;
inline constexpr size_t kMaxMockBodyBytes = 64u << 10;
inline constexpr size_t kMaxMockHeaders = 32;
inline constexpr size_t kMaxMockHeaderValueBytes = 8192;
inline constexpr uint32_t kMaxMockDelayMs = 30000;
inline constexpr size_t kMaxGroupBytes = 256;  // A fan-out backend's group key and name.

}  // namespace valet

#endif  // VALET_COMMON_MESSAGE_LIMITS_H_
