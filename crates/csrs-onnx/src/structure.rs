//! What a model must be before its nodes are read: an opset csrs reads,
//! at most [`MAX_NODES`] nodes, and every value defined once, before it is
//! read. onnxruntime and `onnx.checker` refuse models that break these
//! rules; the parser does not check all of them (a value defined twice is
//! read as if it were two), and its passes take time quadratic in the
//! number of nodes, which this check, linear, bounds first.

use std::collections::HashSet;

use onnx_ir::ModelProto;

use crate::shown;

/// The most nodes a model may have: fifteen times those of a ResNet-110
/// export. The parser's passes take time quadratic in the number of nodes:
/// a chain of ReLUs at the limit takes it about 2 seconds.
pub const MAX_NODES: usize = 5_000;

/// The opsets of the standard domain read: from 13 (the operators' meaning
/// csrs implements) to 24, the newest the parser knows; the operators csrs
/// reads mean the same in all of them.
pub const OPSETS: std::ops::RangeInclusive<i64> = 13..=24;

pub(crate) fn check(model: &ModelProto) -> Result<(), String> {
    let standard: Vec<i64> =
        model.opset_import.iter().filter(|o| matches!(o.domain.as_str(), "" | "ai.onnx")).map(|o| o.version).collect();
    match standard.as_slice() {
        [] => return Err("no opset of the standard ONNX domain; supported: opsets 13 to 24".into()),
        [version] if OPSETS.contains(version) => {}
        [version] => return Err(format!("opset {version}; supported: opsets 13 to 24")),
        _ => return Err("the standard ONNX domain imported twice".into()),
    }
    let graph = &model.graph;
    if graph.node.len() > MAX_NODES {
        return Err(format!("{} nodes, more than the limit of {MAX_NODES}", graph.node.len()));
    }
    // An initializer may also be listed among the inputs (IR version 3).
    let mut defined: HashSet<&str> = graph.initializer.iter().map(|t| t.name.as_str()).collect();
    if defined.len() != graph.initializer.len() {
        return Err("two weights of one name".into());
    }
    for input in &graph.input {
        defined.insert(input.name.as_str());
    }
    for node in &graph.node {
        let name = || shown(&node.name);
        for input in node.input.iter().filter(|i| !i.is_empty()) {
            if !defined.contains(input.as_str()) {
                return Err(format!(
                    "node {} ({}) reads {}, which no earlier node computes",
                    name(),
                    shown(&node.op_type),
                    shown(input)
                ));
            }
        }
        for output in node.output.iter().filter(|o| !o.is_empty()) {
            if !defined.insert(output.as_str()) {
                return Err(format!(
                    "node {} ({}) defines {}, which is defined already",
                    name(),
                    shown(&node.op_type),
                    shown(output)
                ));
            }
        }
    }
    if let Some(output) = graph.output.iter().find(|o| !defined.contains(o.name.as_str())) {
        return Err(format!("the output {} is not computed", shown(&output.name)));
    }
    Ok(())
}
