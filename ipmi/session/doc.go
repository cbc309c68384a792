// Package session is the client side of IPMI-over-LAN sessions: IPMI v2.0
// RMCP+ (OpenRMCPPlus) and IPMI v1.5 (OpenLAN), built so that one
// long-lived session serves scrape after scrape.
//
// A *Session implements Transport, the only thing the command layer
// (ipmi.Client) needs: Exchange one request, Close. Another transport, for
// example a Linux in-band driver over /dev/ipmi0, can be added later by
// implementing the same two methods; nothing above this package changes.
//
// # What a session does for its callers
//
//   - Setup: Get Channel Authentication Capabilities, cipher suite choice
//     (Get Channel Cipher Suites, or trying suites strongest first when the
//     BMC lacks that command), Open Session, RAKP 1-4 with the RAKP2 auth
//     code and RAKP4 integrity check verified in constant time, and Set
//     Session Privilege Level. IPMI v1.5: Get Session Challenge, Activate
//     Session (MD5, straight password or none), Set Session Privilege
//     Level. Failures are typed: ErrUnreachable, *AuthError (WrongUser,
//     WrongPassword, WrongKG, NoCipherSuite, PrivilegeRefused).
//   - Every inbound packet is checked before it is believed: integrity
//     (constant time), session ID, a replay window over the BMC's session
//     sequence numbers, decryption (AES-CBC-128), checksums, and the rqSeq,
//     netFn and command of a request in flight. Anything else is dropped.
//     A connected UDP socket keeps out datagrams from other addresses and
//     turns ICMP port unreachable into an immediate ErrUnreachable.
//   - Retransmits with exponential backoff inside the caller's deadline,
//     each with a new session sequence number but the same rqSeq, so a late
//     answer to an earlier try still counts.
//   - A session the BMC dropped (idle expiry, BMC reboot) is re-established
//     transparently, at most once per Exchange.
//   - Bridged requests (a Target other than the BMC) travel in Send Message
//     with request tracking; the answer is taken from the Send Message
//     response or from the separate message that follows it.
//
// # Concurrency and buffers
//
// A Session is safe for concurrent use. Config.Window (default 1) bounds
// the requests in flight; many BMCs corrupt or drop answers when more are
// outstanding. There is no background goroutine: the callers waiting for
// answers take turns reading the socket and hand each answer to the caller
// it belongs to. With Window 1 an Exchange on an open session allocates
// nothing in this package (the returned data aliases a per-session buffer
// valid until the next Exchange); with AES, crypto's cipher mode adds two
// small allocations per request.
//
// Metrics hooks go through the Observer interface.
package session
