//! Network I/O: sessions to the ACS, the Connection Request listener, file transfers.
