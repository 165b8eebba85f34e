//! PDU sequence numbers.

/// Sequence numbers run 1..=0x7FFFFFFF and wrap (SMPP 3.4 §5.1.4).
#[derive(Debug)]
pub struct Sequence(u32);

impl Default for Sequence {
    fn default() -> Self {
        Sequence(1)
    }
}

impl Sequence {
    pub fn starting_at(n: u32) -> Sequence {
        Sequence(n.clamp(1, 0x7FFF_FFFF))
    }

    pub fn take(&mut self) -> u32 {
        let n = self.0;
        self.0 = if n >= 0x7FFF_FFFF { 1 } else { n + 1 };
        n
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sequence_wraps_within_range() {
        let mut s = Sequence::starting_at(0x7FFF_FFFE);
        assert_eq!([s.take(), s.take(), s.take()], [0x7FFF_FFFE, 0x7FFF_FFFF, 1]);
        let mut s = Sequence::default();
        assert_eq!(s.take(), 1);
    }
}
