package session

import (
	"context"
	"errors"
	"fmt"

	"github.com/ipmifleet/ipmi_fleet_exporter/ipmi/command"
	"github.com/ipmifleet/ipmi_fleet_exporter/ipmi/wire"
)

// Activate Session completion codes (IPMI v2.0 section 22.17).
const (
	ccActivateNoSessionSlot     wire.CompletionCode = 0x81
	ccActivateNoSlotForUser     wire.CompletionCode = 0x82
	ccActivateNoSlotForPriv     wire.CompletionCode = 0x83
	ccActivateSeqOutOfRange     wire.CompletionCode = 0x84
	ccActivateInvalidSessionID  wire.CompletionCode = 0x85
	ccActivatePrivilegeExceeded wire.CompletionCode = 0x86
)

// Get Session Challenge completion codes (section 22.16).
const (
	ccChallengeInvalidUser      wire.CompletionCode = 0x81
	ccChallengeNullUserDisabled wire.CompletionCode = 0x82
)

// handshakeLAN sets up an IPMI v1.5 session: Get Channel Authentication
// Capabilities, Get Session Challenge, Activate Session, Set Session
// Privilege Level (IPMI v2.0 section 6.12.x "session activation").
func (s *Session) handshakeLAN(ctx context.Context) error {
	caps, err := s.authCapabilities(ctx, false)
	if err != nil {
		return err
	}
	authType, err := s.chooseAuthType15(caps.AuthTypes)
	if err != nil {
		return err
	}

	var challengeReq command.GetSessionChallengeRequest
	challengeReq.AuthType = authType
	if err := challengeReq.SetUserName(s.cfg.Username); err != nil {
		return err
	}
	var buf [32]byte
	code, data, err := s.call(ctx, s.deadlineFor(ctx), wire.NetFnApp, command.CmdGetSessionChallenge, challengeReq.AppendTo(buf[:0]))
	if err != nil {
		return fmt.Errorf("get session challenge: %w", err)
	}
	switch code {
	case wire.CCOK:
	case ccChallengeInvalidUser:
		return authError(WrongUser, "get session challenge: completion code %s (invalid user name)", code)
	case ccChallengeNullUserDisabled:
		return authError(WrongUser, "get session challenge: completion code %s (null user name not enabled)", code)
	default:
		return fmt.Errorf("%w: get session challenge: completion code %s", ErrProtocol, code)
	}
	var challenge command.GetSessionChallengeResponse
	if err := challenge.Unmarshal(data); err != nil {
		return fmt.Errorf("%w: %w", ErrProtocol, err)
	}
	if challenge.TemporarySessionID == 0 {
		return fmt.Errorf("%w: get session challenge: temporary session ID 0", ErrProtocol)
	}

	// The BMC numbers its packets to us from the initial outbound
	// sequence number we choose; we number ours from the "initial inbound
	// sequence number" it returns (named from the BMC's side, as ipmitool
	// reads them).
	bmcFirstSeq, err := randomSessionID()
	if err != nil {
		return err
	}
	s.setCodec(&v15Codec{id: challenge.TemporarySessionID, outAuth: authType, inAuth: authType,
		password: s.cfg.Password, outSeqFixed: true, noWindow: true, activating: true})
	activate := command.ActivateSessionRequest{AuthType: authType, MaxPrivilege: s.cfg.Privilege,
		Challenge: challenge.Challenge, InitialOutboundSeq: bmcFirstSeq}
	code, data, err = s.call(ctx, s.deadlineFor(ctx), wire.NetFnApp, command.CmdActivateSession, activate.AppendTo(buf[:0]))
	if err != nil {
		if errors.Is(err, ErrTimeout) && authType != wire.AuthTypeNone {
			// The BMC answered the challenge, so it is there; a BMC drops
			// an Activate Session whose auth code it cannot verify
			// (ipmi_sim does), which is what a wrong password looks like.
			return authError(WrongPassword, "no answer to the authenticated Activate Session (%v)", err)
		}
		return fmt.Errorf("activate session: %w", err)
	}
	switch code {
	case wire.CCOK:
	case ccActivatePrivilegeExceeded:
		return authError(PrivilegeRefused, "activate session: completion code %s (privilege exceeds the user's or channel's limit)", code)
	case ccActivateNoSessionSlot, ccActivateNoSlotForUser, ccActivateNoSlotForPriv:
		return fmt.Errorf("%w: activate session: completion code %s", ErrSessionTableFull, code)
	default:
		return fmt.Errorf("%w: activate session: completion code %s", ErrProtocol, code)
	}
	var act command.ActivateSessionResponse
	if err := act.Unmarshal(data); err != nil {
		return fmt.Errorf("%w: %w", ErrProtocol, err)
	}
	if act.SessionID == 0 {
		return fmt.Errorf("%w: activate session: session ID 0", ErrProtocol)
	}
	c := &v15Codec{id: act.SessionID, outAuth: act.AuthType, inAuth: act.AuthType, password: s.cfg.Password,
		outSeq: act.InitialInboundSeq, firstSeq: bmcFirstSeq}
	if c.outSeq == 0 {
		c.outSeq = 1
	}
	if caps.PerMessageAuthDisabled {
		// The BMC authenticates the activation only, not each message;
		// take its replies signed too (unexpectedauth).
		c.outAuth, c.inAuth, c.signedToo = wire.AuthTypeNone, wire.AuthTypeNone, act.AuthType
	}
	s.setCodec(c)
	if act.MaxPrivilege != 0 && act.MaxPrivilege < s.cfg.Privilege {
		_ = s.closeSession(ctx, s.deadlineFor(ctx))
		return authError(PrivilegeRefused, "activate session grants at most %s, want %s", act.MaxPrivilege, s.cfg.Privilege)
	}
	return s.raisePrivilege(ctx)
}

// chooseAuthType15 picks the IPMI v1.5 auth type: the configured one if
// the BMC offers it, else MD5. Straight password and none are never picked
// automatically: straight password puts the password on the wire in the
// clear, so any host that answers on port 623 and offers only that would
// receive it (docs/security.md); both must be configured explicitly. MD2
// is not implemented (crypto.AuthCode15).
func (s *Session) chooseAuthType15(offered command.AuthTypeSupport) (wire.AuthType, error) {
	if s.cfg.AuthType15 != AuthType15Auto {
		want := s.cfg.AuthType15.wire()
		if offered != 0 && !offered.Supports(want) {
			return 0, authError(NoCipherSuite, "BMC does not offer IPMI v1.5 auth type %s (offers 0x%02x)", want, uint8(offered))
		}
		return want, nil
	}
	if offered.Supports(wire.AuthTypeMD5) {
		return wire.AuthTypeMD5, nil
	}
	if offered == 0 {
		// No auth type at all is no offer a working BMC makes: its
		// capabilities are wrong (FreeIPMI's authcap: Asus P5M2, Intel
		// SR1520ML, Sun Fire with ELOM). Try MD5; a BMC without it
		// refuses the challenge, which says so.
		return wire.AuthTypeMD5, nil
	}
	return 0, authError(NoCipherSuite, "BMC offers IPMI v1.5 auth types 0x%02x but not MD5; straight password and none send no proof of the password and must be configured explicitly (auth_type)", uint8(offered))
}
