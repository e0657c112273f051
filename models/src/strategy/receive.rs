//! `recv-copy` and `page-flip`: the receive side.

use super::Explanation;

pub(super) const RECV_COPY: Explanation = Explanation {
    id: "recv-copy",
    title: "recv() copies out of the kernel's buffers",
    origin: "Every BSD and Linux kernel",
    steps: &[
        "the NIC DMAs each frame into a posted receive buffer; the receive interrupt and tcp_input queue it on the socket (a checksum pass unless offloaded)",
        "recv(): enter the kernel; copyout() the data into the user's buffer; the buffers are freed",
    ],
    in_flight: "Not applicable: the data is the receiver's once copied.",
};

pub(super) const PAGE_FLIP: Explanation = Explanation {
    id: "page-flip",
    title: "FreeBSD page flipping on receive",
    origin: "FreeBSD ZERO_COPY_SOCKETS, 2002 (Gallatin, Merry), with the Alteon Tigon II's header-splitting firmware",
    steps: &[
        "with header splitting, the NIC puts each frame's payload at the start of its own page",
        "recv(): for each whole page whose place in the user's buffer is page-aligned (buffer and offset aligned, MTU above a page), vm_pgmoveco replaces the user's page with the kernel's: a PTE change, no copy",
        "anything that does not fit (a short tail, a misaligned buffer, no header splitting) is copied as usual",
    ],
    in_flight: "Not applicable: the page becomes the receiver's.",
};
