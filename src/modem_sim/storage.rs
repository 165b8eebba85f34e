//! Message storage: SIM ("SM"), modem ("ME") and status reports ("SR"), each a fixed
//! number of slots indexed from 1 as 27.005 numbers them. `stat`: 0 unread, 1 read,
//! 2 unsent, 3 sent.

use serde::Serialize;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Stored {
    pub storage: String,
    pub index: u32,
    pub stat: u8,
    /// Hex, SMSC field first (as AT+CMGL shows it).
    pub pdu: String,
}

#[derive(Debug)]
pub struct Memory {
    pub name: &'static str,
    slots: Vec<Option<(u8, String)>>,
}

impl Memory {
    pub fn new(name: &'static str, capacity: usize) -> Memory {
        Memory { name, slots: vec![None; capacity] }
    }

    pub fn used(&self) -> usize {
        self.slots.iter().flatten().count()
    }

    pub fn total(&self) -> usize {
        self.slots.len()
    }

    /// Stores in the lowest free slot; None when full.
    pub fn put(&mut self, stat: u8, pdu: String) -> Option<u32> {
        let i = self.slots.iter().position(Option::is_none)?;
        self.slots[i] = Some((stat, pdu));
        Some(i as u32 + 1)
    }

    /// Whether `index` names a slot at all (full or empty).
    pub fn valid(&self, index: u32) -> bool {
        (1..=self.slots.len() as u32).contains(&index)
    }

    /// Reads a slot, marking an unread message read.
    pub fn read(&mut self, index: u32) -> Option<(u8, String)> {
        let slot = self.slots.get_mut(index.checked_sub(1)? as usize)?.as_mut()?;
        let before = slot.clone();
        if slot.0 == 0 {
            slot.0 = 1;
        }
        Some(before)
    }

    /// The messages with `stat` (4 = all), oldest slot first; unread ones become read.
    pub fn list(&mut self, stat: u8) -> Vec<(u32, u8, String)> {
        let mut out = Vec::new();
        for (i, slot) in self.slots.iter_mut().enumerate() {
            if let Some((s, pdu)) = slot
                && (stat == 4 || *s == stat)
            {
                out.push((i as u32 + 1, *s, pdu.clone()));
                if *s == 0 {
                    *s = 1;
                }
            }
        }
        out
    }

    /// AT+CMGD: flag 0 that index, 1 all read, 2 read and sent, 3 all but unread, 4 all.
    pub fn delete(&mut self, index: u32, flag: u8) {
        for (i, slot) in self.slots.iter_mut().enumerate() {
            let Some((s, _)) = slot else { continue };
            let hit = match flag {
                0 => i as u32 + 1 == index,
                1 => *s == 1,
                2 => *s == 1 || *s == 3,
                3 => *s != 0,
                _ => true,
            };
            if hit {
                *slot = None;
            }
        }
    }

    pub fn snapshot(&self) -> impl Iterator<Item = Stored> + '_ {
        self.slots.iter().enumerate().filter_map(|(i, s)| {
            s.as_ref().map(|(stat, pdu)| Stored {
                storage: self.name.to_string(),
                index: i as u32 + 1,
                stat: *stat,
                pdu: pdu.clone(),
            })
        })
    }
}

/// The three memories, looked up by their AT names ("MT" is read as "SM").
#[derive(Debug)]
pub struct Storage {
    pub sm: Memory,
    pub me: Memory,
    pub sr: Memory,
}

impl Storage {
    pub fn new(sm_capacity: usize) -> Storage {
        Storage { sm: Memory::new("SM", sm_capacity), me: Memory::new("ME", 100), sr: Memory::new("SR", 20) }
    }

    pub fn get(&mut self, name: &str) -> Option<&mut Memory> {
        match name {
            "SM" | "MT" => Some(&mut self.sm),
            "ME" => Some(&mut self.me),
            "SR" => Some(&mut self.sr),
            _ => None,
        }
    }

    pub fn snapshot(&self) -> Vec<Stored> {
        self.sm.snapshot().chain(self.me.snapshot()).chain(self.sr.snapshot()).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_fill_list_read_and_delete() {
        let mut m = Memory::new("SM", 3);
        assert_eq!(m.put(0, "A".into()), Some(1));
        assert_eq!(m.put(0, "B".into()), Some(2));
        assert_eq!(m.put(3, "C".into()), Some(3));
        assert_eq!(m.put(0, "D".into()), None);
        assert_eq!(m.list(0), vec![(1, 0, "A".into()), (2, 0, "B".into())]);
        assert!(m.list(0).is_empty(), "listing marks them read");
        m.delete(2, 0);
        assert_eq!((m.used(), m.read(2)), (2, None));
        assert_eq!(m.put(0, "E".into()), Some(2), "the lowest free slot");
        assert_eq!(m.read(2), Some((0, "E".into())));
        assert_eq!(m.read(2), Some((1, "E".into())));
        assert!(m.valid(3) && !m.valid(0) && !m.valid(4));
        m.delete(0, 2);
        assert_eq!(m.used(), 0, "flag 2 removes read and sent");
        let mut s = Storage::new(30);
        s.get("MT").unwrap().put(0, "X".into());
        assert!(s.get("XX").is_none());
        assert_eq!(s.snapshot()[0], Stored { storage: "SM".into(), index: 1, stat: 0, pdu: "X".into() });
    }
}
