//! The interned parameter paths, all in memory: path to id and id to path.
//!
//! The writer adds paths (publishing them before its transaction commits, and removing
//! them again if it rolls back); readers map ids in rows back to paths and paths in
//! queries to ids. A reader may see a path whose row is not committed yet: it then finds
//! no parameter with it, as if the path were unknown.

use std::collections::{BTreeMap, HashMap};
use std::ops::Bound;
use std::sync::{Arc, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};

/// The map shared by the writer and the readers.
pub(crate) type SharedPaths = Arc<RwLock<PathMap>>;

/// Paths by id and ids by path.
#[derive(Debug, Default)]
pub(crate) struct PathMap {
    by_path: BTreeMap<Arc<str>, i64>,
    by_id: HashMap<i64, Arc<str>>,
}

impl PathMap {
    /// The id of `path`, if interned.
    pub(crate) fn id(&self, path: &str) -> Option<i64> {
        self.by_path.get(path).copied()
    }

    /// The path with `id`.
    pub(crate) fn path(&self, id: i64) -> Option<&Arc<str>> {
        self.by_id.get(&id)
    }

    /// The interned paths starting with `prefix`, in order.
    pub(crate) fn starting_with<'a>(
        &'a self,
        prefix: &'a str,
    ) -> impl Iterator<Item = (&'a str, i64)> + 'a {
        self.by_path
            .range::<str, _>((Bound::Included(prefix), Bound::Unbounded))
            .take_while(move |(p, _)| p.starts_with(prefix))
            .map(|(p, id)| (&**p, *id))
    }

    pub(crate) fn insert(&mut self, id: i64, path: &str) {
        let path: Arc<str> = Arc::from(path);
        self.by_path.insert(path.clone(), id);
        self.by_id.insert(id, path);
    }

    pub(crate) fn remove(&mut self, id: i64) {
        if let Some(path) = self.by_id.remove(&id) {
            self.by_path.remove(&*path);
        }
    }
}

/// Reads the map; a poisoned lock is still a consistent map (writers never panic midway).
pub(crate) fn read(paths: &SharedPaths) -> RwLockReadGuard<'_, PathMap> {
    paths.read().unwrap_or_else(PoisonError::into_inner)
}

pub(crate) fn write(paths: &SharedPaths) -> RwLockWriteGuard<'_, PathMap> {
    paths.write().unwrap_or_else(PoisonError::into_inner)
}

/// The smallest string greater than every string starting with `prefix`, for range
/// scans (`path >= prefix AND path < upper`); `None` when there is none (no prefix, or
/// only U+10FFFF characters).
pub(crate) fn prefix_upper_bound(prefix: &str) -> Option<String> {
    let mut chars: Vec<char> = prefix.chars().collect();
    while let Some(last) = chars.pop() {
        let mut next = u32::from(last) + 1;
        if next == 0xD800 {
            next = 0xE000;
        }
        if let Some(c) = char::from_u32(next) {
            chars.push(c);
            return Some(chars.into_iter().collect());
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes() {
        let mut m = PathMap::default();
        for (i, p) in ["Device.A.", "Device.A.B", "Device.AB", "Device.B"]
            .iter()
            .enumerate()
        {
            m.insert(i as i64 + 1, p);
        }
        let got: Vec<_> = m.starting_with("Device.A.").collect();
        assert_eq!(got, [("Device.A.", 1), ("Device.A.B", 2)]);
        m.remove(2);
        assert_eq!(m.id("Device.A.B"), None);
        assert_eq!(m.path(3).map(|p| &**p), Some("Device.AB"));
        assert_eq!(
            prefix_upper_bound("Device.A.").as_deref(),
            Some("Device.A/")
        );
        assert_eq!(prefix_upper_bound(""), None);
    }
}
