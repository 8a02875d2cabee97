//! The arithmetic of the base classifier (`--precision`): the network's
//! float type on a GPU.

use std::fmt;
use std::str::FromStr;

use burn::tensor::FloatDType;
use csrs_artifacts::{Setting, Worded};

use crate::DeviceChoice;

/// The float type a network computes in.
///
/// With `bf16` or `f16` the base classifier is "round the noisy input to
/// that type, then the network in it", its weights converted once at load:
/// a fixed function of the noisy input, so a certificate keeps its meaning
/// (it is of the smoothed classifier of that function). The noise is drawn
/// and added in f32 before the rounding, so it is the noise the bounds
/// assume.
///
/// `tf32` is f32 storage with matrix products on tensor cores, which round
/// their operands to TF32 (10 bits of mantissa). burn 0.21's CUDA kernels
/// do this for f32 whenever the autotuner picks a tensor-core kernel (on
/// compute capability 8.0 and above), and offer no switch to turn it off:
/// on such GPUs `f32` and `tf32` run the same program.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Precision {
    /// 32-bit floats.
    #[default]
    F32,
    /// 32-bit floats, products on TF32 tensor cores.
    Tf32,
    /// bfloat16: f32's range, 8 bits of mantissa.
    Bf16,
    /// IEEE half: 11 bits of mantissa, values up to 65 504.
    F16,
}

impl Precision {
    /// Every precision, in the order `--help` names them.
    pub const ALL: [Precision; 4] = [Precision::F32, Precision::Tf32, Precision::Bf16, Precision::F16];

    /// The float type inputs and weights are converted to; `None` where
    /// they stay f32.
    pub fn dtype(self) -> Option<FloatDType> {
        match self {
            Precision::F32 | Precision::Tf32 => None,
            Precision::Bf16 => Some(FloatDType::BF16),
            Precision::F16 => Some(FloatDType::F16),
        }
    }

    /// Refuses a precision other than f32 on the CPU, where csrs computes
    /// in f32 only (neither of its CPU engines has faster half-precision
    /// kernels).
    ///
    /// # Errors
    /// The one-line reason.
    pub fn check_on(self, device: DeviceChoice) -> anyhow::Result<()> {
        match (self, device) {
            (Precision::F32, _) | (_, DeviceChoice::Cuda(_)) => Ok(()),
            (_, DeviceChoice::Cpu) => Err(Worded::new(move |s| {
                format!(
                    "{} runs on a GPU ({}); on the CPU csrs computes in f32 only",
                    s.given(Setting::Precision, &self),
                    s.given(Setting::Device, &"cuda")
                )
            })
            .into()),
        }
    }
}

impl FromStr for Precision {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        Precision::ALL
            .into_iter()
            .find(|precision| precision.to_string() == text)
            .ok_or_else(|| format!("unknown precision {text:?}, expected f32, tf32, bf16 or f16"))
    }
}

impl fmt::Display for Precision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Precision::F32 => "f32",
            Precision::Tf32 => "tf32",
            Precision::Bf16 => "bf16",
            Precision::F16 => "f16",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_read_back() {
        for precision in Precision::ALL {
            assert_eq!(precision.to_string().parse::<Precision>(), Ok(precision));
        }
        assert!("fp16".parse::<Precision>().unwrap_err().contains("expected f32, tf32, bf16 or f16"));
    }

    #[test]
    fn the_cpu_takes_f32_only() {
        assert!(Precision::F32.check_on(DeviceChoice::Cpu).is_ok());
        for precision in [Precision::Tf32, Precision::Bf16, Precision::F16] {
            let message = precision.check_on(DeviceChoice::Cpu).unwrap_err().to_string();
            assert_eq!(
                message,
                format!("precision = {precision} runs on a GPU (device = cuda); on the CPU csrs computes in f32 only")
            );
            assert!(precision.check_on(DeviceChoice::Cuda(0)).is_ok());
        }
    }
}
