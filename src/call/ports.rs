//! A shard's slice of the RTP port range, owned by its host (choosing a port is
//! data, not I/O; the shell binds what the host picks): even ports only, each
//! with the odd one above it in the range for RTCP, each shard a disjoint share, released ports reused last so a
//! late packet of a finished call does not land in a new one.

use std::collections::VecDeque;

/// The free RTP ports of one shard.
#[derive(Debug)]
pub struct PortPool {
    free: VecDeque<u16>,
}

impl PortPool {
    /// Shard `shard` of `shards` takes every `shards`-th even port of `min..=max`.
    pub fn new(min: u16, max: u16, shard: usize, shards: usize) -> PortPool {
        let shards = shards.max(1);
        let first_even = min + (min % 2);
        let free = (first_even..=max.saturating_sub(1))
            .step_by(2)
            .enumerate()
            .filter(|(i, _)| i % shards == shard)
            .map(|(_, port)| port)
            .collect();
        PortPool { free }
    }

    /// Takes the least recently used free port.
    pub fn take(&mut self) -> Option<u16> {
        self.free.pop_front()
    }

    /// Gives a port back.
    pub fn put(&mut self, port: u16) {
        self.free.push_back(port);
    }

    /// How many ports are free.
    pub fn free_count(&self) -> usize {
        self.free.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_share_the_range_without_overlap() {
        let mut a = PortPool::new(20000, 20011, 0, 2);
        let mut b = PortPool::new(20000, 20011, 1, 2);
        let a_ports: Vec<u16> = std::iter::from_fn(|| a.take()).collect();
        let b_ports: Vec<u16> = std::iter::from_fn(|| b.take()).collect();
        assert_eq!(a_ports, vec![20000, 20004, 20008]);
        assert_eq!(b_ports, vec![20002, 20006, 20010]);
    }

    #[test]
    fn every_port_is_even_with_its_rtcp_port_in_the_range() {
        for (min, max) in [(20000, 20011), (20001, 20010), (30000, 30001)] {
            let mut pool = PortPool::new(min, max, 0, 1);
            let ports: Vec<u16> = std::iter::from_fn(|| pool.take()).collect();
            assert!(!ports.is_empty());
            assert!(
                ports
                    .iter()
                    .all(|&port| port % 2 == 0 && port >= min && port < max),
                "{min}-{max}: {ports:?}"
            );
        }
    }

    #[test]
    fn odd_minimum_starts_at_next_even_and_released_ports_go_last() {
        let mut pool = PortPool::new(30001, 30008, 0, 1);
        assert_eq!(pool.take(), Some(30002));
        pool.put(30002);
        assert_eq!(pool.take(), Some(30004));
        assert_eq!(pool.free_count(), 2);
    }
}
