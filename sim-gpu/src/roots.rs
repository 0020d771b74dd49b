//! NVIDIA's real roots, bundled for verifying evidence from real GPUs (copied from NVIDIA/nvtrust
//! `guest_tools/gpu_verifiers/local_gpu_verifier/src/verifier/certs/`; origins in
//! `vectors/gpu/captures/README.md`).

/// NVIDIA Device Identity CA (the device chain's root), PEM.
pub const NVIDIA_DEVICE_ROOT_PEM: &str =
    include_str!("../../vectors/gpu/captures/root_nvidia-device-identity-ca.pem");

/// NVIDIA CoRIM signing Root CA (the RIM chain's root), PEM.
pub const NVIDIA_RIM_ROOT_PEM: &str =
    include_str!("../../vectors/gpu/captures/root_nvidia-corim-signing-root-ca.pem");
