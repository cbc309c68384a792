// Package inband reads the local BMC through the Linux IPMI device
// interface (/dev/ipmi0 of the ipmi_devintf module): no network, no
// session, no credentials. *Transport implements the same Transport as an
// IPMI-over-LAN session (ipmi.Transport), so the collectors, the SDR cache
// and the metrics are the same as over LAN.
//
// Requests go out with the IPMICTL_SEND_COMMAND ioctl and come back with
// IPMICTL_RECEIVE_MSG_TRUNC (linux/ipmi.h). The BMC is addressed through
// the system interface (the KCS/BT/SSIF interface the kernel found); a
// satellite controller through an IPMB address, which the kernel's message
// handler bridges (Send Message to the BMC, the answer matched by its
// sequence number), so a bridged sensor is read as over LAN.
//
// Several requests may be in flight on the one device file: each carries a
// message ID of its own and the kernel returns it with the answer. No
// goroutine of this package reads the device: callers waiting for answers
// take turns in the reader role (as a LAN session does), the reader hands
// every answer to its request, and an answer whose request gave up (its
// context ended) is dropped, never given to another request. Waiting is
// done by the Go runtime's poller on the non-blocking device file, so every
// wait ends with the caller's context.
package inband
