//! Certificates as JSON, in the schema of the certification oracle:
//! `null` for abstain / not certified, `"inf"` for an infinite radius.

use csrs_stats::{Certificate, HarmRadius};
use serde_json::{Value, json};

/// The `result` object of `certify-counts`: `predicted`, `abstain`,
/// `p_lower`, `radius_std`, `radius_cs`, `certified_cost`.
///
/// `certified_cost` is the curve of `[level, radius]` pairs (null in
/// standard mode): the certified cost at ε is the first level whose radius
/// is at least ε. Radii are written with every digit, never rounded up.
pub(crate) fn certificate(cert: &Certificate) -> Value {
    let cost_sensitive = cert.cost_sensitive.as_ref();
    json!({
        "predicted": cert.predicted,
        "abstain": cert.abstains(),
        "p_lower": cert.p_lower,
        "radius_std": cert.standard.radius().map_or(Value::Null, |r| json!(r.get())),
        "radius_cs": cost_sensitive.map_or(Value::Null, |cs| harm_radius(cs.radius())),
        "certified_cost": cost_sensitive.map(|cs| {
            cs.levels.iter().map(|level| json!([level.level, harm_radius(level.radius)])).collect::<Vec<_>>()
        }),
    })
}

fn harm_radius(radius: HarmRadius) -> Value {
    match radius {
        HarmRadius::NotCertified => Value::Null,
        HarmRadius::Certified(r) => json!(r.get()),
        HarmRadius::Infinite => json!("inf"),
    }
}
