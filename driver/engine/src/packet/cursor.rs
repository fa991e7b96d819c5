//! Reading and writing bytes at absolute offsets of a frame split across
//! slices, without allocation and without panics.
//!
//! A frame is a list of slices, the way an MDL chain splits it. Most headers
//! lie in the first slice: [`Frame::view`] then borrows them in place. A
//! header that straddles slices (or lies past the first one) is copied into a
//! small stack array the caller provides. Either way the caller gets a
//! fixed-size array reference, so the typed header views built on top of it
//! cannot index out of bounds.

/// A read-only frame: a list of slices seen as one byte string.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Frame<'a> {
    slices: &'a [&'a [u8]],
    first: &'a [u8],
    len: usize,
}

impl<'a> Frame<'a> {
    /// Wraps the slices. Costs one pass over the (short) slice list to learn
    /// the total length.
    #[inline]
    pub(crate) fn new(slices: &'a [&'a [u8]]) -> Self {
        let first = slices.first().copied().unwrap_or(&[]);
        let len = slices
            .iter()
            .fold(0usize, |acc, s| acc.saturating_add(s.len()));
        Self { slices, first, len }
    }

    /// Total length in bytes.
    #[inline]
    pub(crate) const fn len(&self) -> usize {
        self.len
    }

    /// The `N` bytes at `offset`, borrowed in place when they lie in one
    /// slice, else copied into `buf`. `None` when the frame ends first.
    #[inline]
    pub(crate) fn view<'b, const N: usize>(
        &'b self,
        offset: usize,
        buf: &'b mut [u8; N],
    ) -> Option<&'b [u8; N]> {
        let end = offset.checked_add(N)?;
        if let Some(bytes) = self.first.get(offset..end) {
            return bytes.try_into().ok();
        }
        self.view_slow(offset, buf)
    }

    /// [`Self::view`] past the first slice: finds the slice that holds
    /// `offset`, borrows from it when the `N` bytes fit, else copies them
    /// from it and the slices that follow.
    #[inline(never)]
    fn view_slow<'b, const N: usize>(
        &'b self,
        offset: usize,
        buf: &'b mut [u8; N],
    ) -> Option<&'b [u8; N]> {
        let mut skip = offset;
        let mut slices = self.slices.iter();
        for slice in slices.by_ref() {
            let rest = match slice.get(skip..) {
                Some(rest) if !rest.is_empty() => rest,
                // The offset lies at or past this slice's end.
                _ => {
                    skip = skip.checked_sub(slice.len())?;
                    continue;
                }
            };
            if let Some(bytes) = rest.first_chunk::<N>() {
                return Some(bytes);
            }
            // The bytes straddle slices: `rest` is shorter than N.
            let (head, mut tail) = buf.split_at_mut_checked(rest.len())?;
            head.copy_from_slice(rest);
            for next in slices {
                if tail.is_empty() {
                    break;
                }
                let n = next.len().min(tail.len());
                let (dst, more) = tail.split_at_mut_checked(n)?;
                dst.copy_from_slice(next.get(..n)?);
                tail = more;
            }
            return tail.is_empty().then_some(&*buf);
        }
        None
    }

    /// The byte at `offset`.
    #[inline]
    pub(crate) fn u8_at(&self, offset: usize) -> Option<u8> {
        let mut buf = [0u8; 1];
        self.view(offset, &mut buf).map(|b| b[0])
    }
}

/// A writable frame: a list of mutable slices seen as one byte string.
///
/// The marker touches at most four bytes (the DS byte and the checksum, or a
/// tag's TCI), so bytes are located one at a time; each lookup walks the
/// (short) slice list and stops at the slice that holds the byte.
#[derive(Debug)]
pub(crate) struct FrameMut<'f, 'a> {
    slices: &'f mut [&'a mut [u8]],
}

impl<'f, 'a> FrameMut<'f, 'a> {
    /// Wraps the slices.
    #[inline]
    pub(crate) fn new(slices: &'f mut [&'a mut [u8]]) -> Self {
        Self { slices }
    }

    /// The byte at `offset`, for reading or writing.
    #[inline]
    pub(crate) fn byte_mut(&mut self, offset: usize) -> Option<&mut u8> {
        let mut skip = offset;
        for slice in self.slices.iter_mut() {
            let len = slice.len();
            match skip.checked_sub(len) {
                // The offset lies past this slice.
                Some(rest) => skip = rest,
                None => return slice.get_mut(skip),
            }
        }
        None
    }

    /// The byte at `offset`.
    #[inline]
    pub(crate) fn get(&mut self, offset: usize) -> Option<u8> {
        self.byte_mut(offset).map(|b| *b)
    }

    /// Writes the byte at `offset`; `None` when the frame is shorter.
    #[inline]
    pub(crate) fn set(&mut self, offset: usize, value: u8) -> Option<()> {
        self.byte_mut(offset).map(|b| *b = value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::vec::Vec;

    /// Every split of 0..=2 points, including empty slices.
    fn splits(data: &[u8]) -> Vec<Vec<&[u8]>> {
        let mut out = Vec::new();
        for a in 0..=data.len() {
            for b in a..=data.len() {
                out.push(std::vec![&data[..a], &data[a..b], &data[b..]]);
            }
        }
        out.push(std::vec![data]);
        out
    }

    #[test]
    fn view_reads_the_same_bytes_at_any_split() {
        let data: Vec<u8> = (0u8..24).collect();
        for parts in splits(&data) {
            let f = Frame::new(&parts);
            assert_eq!(f.len(), data.len());
            for off in 0..=data.len() + 1 {
                let mut buf = [0u8; 5];
                let want = data.get(off..off + 5);
                assert_eq!(f.view(off, &mut buf).map(|b| &b[..]), want, "{off}");
                assert_eq!(f.u8_at(off), data.get(off).copied());
            }
            let mut buf = [0u8; 1];
            assert_eq!(f.view(usize::MAX, &mut buf), None);
        }
    }

    #[test]
    fn byte_mut_writes_through_any_split() {
        let data: Vec<u8> = (0u8..10).collect();
        for a in 0..=data.len() {
            let mut copy = data.clone();
            let (x, y) = copy.split_at_mut(a);
            let mut parts = [&mut [][..], x, y];
            let mut f = FrameMut::new(&mut parts);
            for i in 0..data.len() {
                assert_eq!(f.get(i), Some(i as u8));
                assert_eq!(f.set(i, 100 + i as u8), Some(()));
            }
            assert_eq!(f.get(data.len()), None);
            assert_eq!(f.set(data.len(), 0), None);
            assert_eq!(copy, (100u8..110).collect::<Vec<_>>());
        }
    }
}
