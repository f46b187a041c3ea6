//! TEMPORARY: replaced by the sdssplitargs port.
pub fn split_args(line: &[u8]) -> Option<Vec<Vec<u8>>> {
    Some(
        line.split(|b| b.is_ascii_whitespace())
            .filter(|s| !s.is_empty())
            .map(|s| s.to_vec())
            .collect(),
    )
}
