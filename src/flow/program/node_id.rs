//! [`NodeId`]: a node's id as the source document names it, shared cheaply
//! between the program, commands, trace events and `Session::visited`.

use std::fmt;
use std::ops::Deref;
use std::sync::Arc;

use serde::{Serialize, Serializer};

/// A node id (`"welcome"`, or `"#3"` for the fourth action of an action array
/// when it has no id). Cloning shares the text.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NodeId(Arc<str>);

impl NodeId {
    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Deref for NodeId {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl AsRef<str> for NodeId {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl From<&str> for NodeId {
    fn from(text: &str) -> NodeId {
        NodeId(Arc::from(text))
    }
}

impl From<String> for NodeId {
    fn from(text: String) -> NodeId {
        NodeId(Arc::from(text))
    }
}

impl PartialEq<str> for NodeId {
    fn eq(&self, other: &str) -> bool {
        &*self.0 == other
    }
}

impl PartialEq<&str> for NodeId {
    fn eq(&self, other: &&str) -> bool {
        &*self.0 == *other
    }
}

impl PartialEq<NodeId> for &str {
    fn eq(&self, other: &NodeId) -> bool {
        *self == &*other.0
    }
}

impl fmt::Debug for NodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&*self.0, f)
    }
}

impl fmt::Display for NodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl Serialize for NodeId {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compares_displays_and_serializes_as_text() {
        let id = NodeId::from("welcome");
        assert_eq!(id, "welcome");
        assert_eq!("welcome", id);
        assert_eq!(id.to_string(), "welcome");
        assert_eq!(format!("{id:?}"), "\"welcome\"");
        assert_eq!(serde_json::to_string(&id).unwrap(), "\"welcome\"");
        assert_eq!(id.len(), 7);
    }
}
