//! Data augmentation for CIFAR-sized images: a random 32×32 crop of the
//! image padded by 4 zero pixels, and a random horizontal flip (as in Cohen
//! et al.'s and MACER's training scripts).

use csrs_data::ImageShape;
use rand_xoshiro::SplitMix64;
use rand_xoshiro::rand_core::Rng;

/// Zero padding around the image before cropping.
pub(crate) const PADDING: usize = 4;

/// Whether images of this shape get cropped and flipped by default.
pub(crate) fn is_default_for(shape: ImageShape) -> bool {
    shape.channels == 3 && shape.height == 32 && shape.width == 32
}

/// A randomly shifted (by up to `PADDING` pixels each way, zeros shifted
/// in) and randomly mirrored copy of a C×H×W image.
pub(crate) fn crop_and_flip(image: &[f32], shape: ImageShape, rng: &mut SplitMix64) -> Vec<f32> {
    let span = 2 * PADDING as u64 + 1;
    let dy = (rng.next_u64() % span) as isize - PADDING as isize;
    let dx = (rng.next_u64() % span) as isize - PADDING as isize;
    let flip = rng.next_u64() % 2 == 1;
    shifted(image, shape, dy, dx, flip)
}

/// Output pixel (y, x) is input pixel (y + dy, x' + dx), with x' mirrored
/// when `flip`; outside the image it is 0.
fn shifted(image: &[f32], shape: ImageShape, dy: isize, dx: isize, flip: bool) -> Vec<f32> {
    let (h, w) = (shape.height as isize, shape.width as isize);
    let mut out = vec![0.0; image.len()];
    for c in 0..shape.channels {
        let plane = c * shape.height * shape.width;
        for y in 0..h {
            for x in 0..w {
                let source_x = if flip { w - 1 - x } else { x } + dx;
                let source_y = y + dy;
                if (0..h).contains(&source_y) && (0..w).contains(&source_x) {
                    out[plane + (y * w + x) as usize] = image[plane + (source_y * w + source_x) as usize];
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use rand_xoshiro::rand_core::SeedableRng;

    use super::*;

    const SHAPE: ImageShape = ImageShape { channels: 2, height: 3, width: 4 };

    fn image() -> Vec<f32> {
        (0..24).map(|i| i as f32).collect()
    }

    #[test]
    fn shifts_mirror_and_pad_with_zeros() {
        assert_eq!(shifted(&image(), SHAPE, 0, 0, false), image());
        let mirrored = shifted(&image(), SHAPE, 0, 0, true);
        assert_eq!(&mirrored[..4], &[3.0, 2.0, 1.0, 0.0]);
        assert_eq!(shifted(&mirrored, SHAPE, 0, 0, true), image());
        let down = shifted(&image(), SHAPE, -1, 0, false);
        assert_eq!(&down[..8], &[0.0, 0.0, 0.0, 0.0, 0.0, 1.0, 2.0, 3.0]);
        assert_eq!(&down[12..16], &[0.0; 4], "the second channel is shifted too");
        let left = shifted(&image(), SHAPE, 0, 1, false);
        assert_eq!(&left[..4], &[1.0, 2.0, 3.0, 0.0]);
    }

    #[test]
    fn random_crops_are_reproducible_and_vary() {
        let shape = ImageShape { channels: 3, height: 32, width: 32 };
        assert!(is_default_for(shape) && !is_default_for(SHAPE));
        let picture: Vec<f32> = (0..3 * 32 * 32).map(|i| (i % 97) as f32).collect();
        let crops = |seed| {
            let mut rng = SplitMix64::seed_from_u64(seed);
            (0..8).map(|_| crop_and_flip(&picture, shape, &mut rng)).collect::<Vec<_>>()
        };
        assert_eq!(crops(3), crops(3));
        let distinct = crops(3).iter().filter(|c| **c != picture).count();
        assert!(distinct >= 6, "most crops differ from the original: {distinct}");
    }
}
