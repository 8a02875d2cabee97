//! Gaussian noise drawn on the device: csrs's Philox4x32-10 streams as a
//! cubecl kernel, so that a GPU forms its noisy copies where it classifies
//! them, from the same streams as the CPU engine ([`NativeCounter`](crate::NativeCounter)).
//!
//! Why a kernel: noise drawn on the host and uploaded per batch ran at
//! 0.27–0.65× of device-drawn noise on an H100 (docs/performance.md), and
//! burn's own device generator draws other numbers on every backend, so
//! burn's counts differed from the native engine's. With the kernel, burn
//! on a GPU and the CPU engine draw the same noise: the uniforms bit for bit
//! (integer arithmetic, and conversions exact in f32), the Gaussians within
//! a few units in the last place (the device's `ln`, `cos` and `sin`).

#[cfg(feature = "cube")]
mod cube;
#[cfg(feature = "cube")]
mod kernel;

use burn::prelude::*;

use crate::SeededBlock;
#[cfg(feature = "cube")]
pub use cube::{DeviceNoise, noisy_copies};

/// Draws noisy copies on `B`'s device: `[inputs, len]` bases, the blocks
/// (each of one input, by its row), σ → `[copies, len]`, the blocks' rows
/// one after the other.
pub(crate) type DrawOnDevice<B> = fn(Tensor<B, 2>, &[SeededBlock], f32) -> Tensor<B, 2>;

/// The kernel for backend `B`, where csrs was built with one for it: burn's
/// CUDA backend (the `cuda` feature) and its wgpu backend (`wgpu`, with
/// which the kernel is tested on a machine without a GPU). Rust has no
/// specialisation, so the backends with a kernel are told apart by their
/// type, at no cost; any other backend draws on the host.
pub(crate) fn kernel_for<B: Backend>() -> Option<DrawOnDevice<B>> {
    #[cfg(feature = "cube")]
    {
        use std::any::Any;
        let kernels: &[&dyn Any] = &[
            #[cfg(feature = "cuda")]
            &(noisy_copies::<burn::backend::Cuda> as DrawOnDevice<burn::backend::Cuda>),
            #[cfg(feature = "wgpu")]
            &(noisy_copies::<burn::backend::Wgpu> as DrawOnDevice<burn::backend::Wgpu>),
        ];
        kernels.iter().find_map(|kernel| kernel.downcast_ref::<DrawOnDevice<B>>().copied())
    }
    #[cfg(not(feature = "cube"))]
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The counters' noise is the same either way, so only this tells that
    /// the kernel is the one used where there is one.
    #[test]
    fn backends_with_a_kernel_get_it_and_others_draw_on_the_host() {
        assert!(kernel_for::<burn::backend::Flex>().is_none());
        #[cfg(feature = "wgpu")]
        assert!(kernel_for::<burn::backend::Wgpu>().is_some());
    }
}
