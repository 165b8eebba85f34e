//! Which inbox files make one message (no I/O).
//!
//! gammu-smsd saves a long message it has put together as one file per part:
//! `…_<sender>_00.txt`, `…_01.txt`, … The parts share the sender and the serial field,
//! but each name carries its own part's timestamp, so the date and time may differ
//! between them. A part joins the first part (`_00`) from the same sender, with the same
//! serial and extension, whose timestamp is nearest and no further than gammu-smsd's
//! MultipartTimeout (600 s) away. A part with no such first part is a message of its own,
//! flagged so the link can warn. (The detail format keeps all parts in the `_00` file.)

use super::parse::InboxName;

/// gammu-smsd's default MultipartTimeout: parts further apart were not joined by it.
const MAX_SPREAD_S: i64 = 600;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Group {
    /// File names in part order.
    pub files: Vec<String>,
    /// A later part whose first part is not in the folder.
    pub orphan: bool,
}

/// Groups the files (name and parsed name); each group's files in part order.
pub fn group(files: &[(String, InboxName)]) -> Vec<Group> {
    let mut sorted: Vec<&(String, InboxName)> = files.iter().collect();
    sorted.sort_by(|a, b| (a.1.part, &a.0).cmp(&(b.1.part, &b.0)));
    // Each group: its first part's name info and its members (part number, file name).
    let mut groups: Vec<(&InboxName, Vec<(u8, String)>)> = Vec::new();
    let mut orphans = Vec::new();
    for (file, n) in sorted {
        if n.part == 0 {
            groups.push((n, vec![(0, file.clone())]));
            continue;
        }
        let at = seconds(n);
        let best = groups
            .iter_mut()
            .filter(|(first, members)| {
                first.sender == n.sender
                    && first.serial == n.serial
                    && first.ext == n.ext
                    && !members.iter().any(|(p, _)| *p == n.part)
            })
            .filter_map(|g| {
                let spread = (seconds(g.0)? - at?).abs();
                (spread <= MAX_SPREAD_S).then_some((spread, g))
            })
            .min_by_key(|(spread, _)| *spread);
        match best {
            Some((_, (_, members))) => members.push((n.part, file.clone())),
            None => orphans.push(file.clone()),
        }
    }
    let mut out: Vec<Group> = groups
        .into_iter()
        .map(|(_, mut members)| {
            members.sort();
            Group { files: members.into_iter().map(|(_, f)| f).collect(), orphan: false }
        })
        .collect();
    out.extend(orphans.into_iter().map(|f| Group { files: vec![f], orphan: true }));
    out.sort_by(|a, b| a.files[0].cmp(&b.files[0]));
    out
}

/// The name's date and time as seconds, for distances only (no zone: the SMSC's clock).
fn seconds(n: &InboxName) -> Option<i64> {
    let dt = jiff::civil::DateTime::strptime("%Y%m%d_%H%M%S", n.stamp()).ok()?;
    Some(dt.to_zoned(jiff::tz::TimeZone::UTC).ok()?.timestamp().as_second())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::gammu_spool::parse::inbox_name;

    fn groups(names: &[&str]) -> Vec<(Vec<String>, bool)> {
        let files: Vec<(String, InboxName)> = names.iter().map(|n| (n.to_string(), inbox_name(n).unwrap())).collect();
        group(&files).into_iter().map(|g| (g.files, g.orphan)).collect()
    }

    #[test]
    fn parts_join_their_first_part() {
        let g = groups(&[
            "IN20261205_101502_00_+1555_01.txt",
            "IN20261205_101500_00_+1555_00.txt",
            "IN20261205_101500_00_+1666_00.txt",
            "IN20261205_111500_00_+1555_00.txt",
            "IN20261205_111501_00_+1555_01.txt",
        ]);
        let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        assert_eq!(
            g,
            vec![
                (s(&["IN20261205_101500_00_+1555_00.txt", "IN20261205_101502_00_+1555_01.txt"]), false),
                (s(&["IN20261205_101500_00_+1666_00.txt"]), false),
                (s(&["IN20261205_111500_00_+1555_00.txt", "IN20261205_111501_00_+1555_01.txt"]), false),
            ]
        );
    }

    #[test]
    fn a_part_without_its_first_is_alone() {
        let g = groups(&["IN20261205_101500_00_+1555_00.txt", "IN20261205_121500_00_+1555_01.txt"]);
        assert_eq!(g.len(), 2);
        assert_eq!(g[1], (vec!["IN20261205_121500_00_+1555_01.txt".to_string()], true));
        // Another serial is another message.
        let g = groups(&["IN20261205_101500_00_+1555_00.txt", "IN20261205_101500_01_+1555_01.txt"]);
        assert!(g[1].1);
    }
}
