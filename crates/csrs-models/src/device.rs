//! Whether a backend can run on a device at all.

use burn::prelude::{Backend, Tensor};

/// Whether `device` computes a first tensor. GPU runtimes panic on a device
/// they do not have (no driver, no such index); the panic is caught, and
/// kept quiet, since its message is the runtime's internals, nothing a user
/// can act on. Callers turn `false` into an error naming the device.
pub fn is_usable<B: Backend>(device: &B::Device) -> bool {
    let hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let probe =
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| Tensor::<B, 1>::zeros([1], device).into_data()));
    std::panic::set_hook(hook);
    probe.is_ok()
}
