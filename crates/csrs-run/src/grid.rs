//! How far a run's inputs are from the 8-bit grid that sound noise rounds
//! them to: what a radius about the rounded input covers about the input.

use csrs_data::Dataset;
use csrs_stats::grid_distance;

use crate::examples::Observer;
use crate::settings::RunSettings;

/// Says (to `observer`) how far the run's images are from the 1/255 grid
/// that sound noise rounds them to, when they are not on it (`name` names
/// them): a certificate of radius R about the rounded image covers R less
/// that distance about the image itself.
///
/// # Errors
/// An image that cannot be read.
pub fn note_grid_distance(
    dataset: &Dataset,
    name: &str,
    run: &RunSettings,
    observer: &mut dyn Observer,
) -> anyhow::Result<()> {
    let mut farthest = 0.0f64;
    for index in run.examples(dataset.len()) {
        farthest = farthest.max(grid_distance(&dataset.image(index)?));
    }
    if farthest > 0.0 {
        observer.note(&format!(
            "note: sound noise certifies each image rounded to the 1/255 grid; {name} images are up to {farthest:.4} from it (l2), so a radius R about the rounded image covers R - {farthest:.4} about the image"
        ));
    }
    Ok(())
}
