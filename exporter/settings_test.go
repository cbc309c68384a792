package exporter

import (
	"context"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/go-kit/log"

	"github.com/ipmifleet/ipmi_fleet_exporter/config"
	"github.com/ipmifleet/ipmi_fleet_exporter/ipmi"
	"github.com/ipmifleet/ipmi_fleet_exporter/ipmi/wire"
	"github.com/ipmifleet/ipmi_fleet_exporter/pool"
)

// idleTransport is a session that is never asked anything (the modules
// below run no collector).
type idleTransport struct{}

func (idleTransport) Exchange(context.Context, wire.Target, wire.NetFn, uint8, []byte) (wire.CompletionCode, []byte, error) {
	return 0, nil, fmt.Errorf("not expected")
}
func (idleTransport) Close(context.Context) error { return nil }

// changedSetting returns a copy of s with field i set to another valid
// value: every field type SessionSettings has must be handled here, so a
// new setting cannot go untested.
func changedSetting(t *testing.T, s config.SessionSettings, i int) config.SessionSettings {
	t.Helper()
	v := reflect.ValueOf(&s).Elem().Field(i)
	switch f := v.Addr().Interface().(type) {
	case *config.Secret:
		*f = config.NewSecret(f.Reveal() + "x")
	case *config.CipherSuite:
		*f = 17
	case *config.Driver:
		*f = config.DriverLAN
	case *config.AuthType:
		*f = config.AuthTypeMD5
	case *config.LookupMode:
		*f = config.LookupNamePrivilege
	case *wire.PrivilegeLevel:
		*f = wire.PrivilegeAdmin
	default:
		switch v.Kind() {
		case reflect.String:
			v.SetString(v.String() + "x")
		case reflect.Int, reflect.Int64, reflect.Int32:
			v.SetInt(v.Int() + 1)
		default:
			t.Fatalf("SessionSettings.%s: changedSetting does not know how to change a %s", v.Type().Name(), v.Type())
		}
	}
	return s
}

// A reload that changes any session setting logs in again; one that
// changes none (a new Module, the same values, new Secret pointers)
// keeps the session.
func TestReloadedSessionSettingsLogInAgain(t *testing.T) {
	dials := 0
	p := pool.New(pool.Options{MaxInFlight: 4}, nil)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		p.Close(ctx)
	})
	x := New(Options{
		Pool: p,
		Dial: func(context.Context, string, *config.Module) (ipmi.Transport, error) {
			dials++
			return idleTransport{}, nil
		},
		IsSessionBroken: IsSessionBroken,
		Logger:          log.NewNopLogger(),
	})
	base := config.SessionSettings{
		User: "u", Password: config.NewSecret("pw"), KG: config.NewSecret("kg"), Privilege: wire.PrivilegeUser,
		Driver: config.DriverLAN20, CipherSuite: 3, AuthType: config.AuthTypeAuto, Lookup: config.LookupAuto, Window: 1,
	}
	module := func(s config.SessionSettings) *config.Module {
		return &config.Module{Name: "m", SessionSettings: s, MaxSessions: 1, IdleTimeout: time.Hour, Timeout: time.Second}
	}
	scrape := func(m *config.Module) {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		x.collect(ctx, "192.0.2.1:623", m, m, log.NewNopLogger())
	}
	scrape(module(base))
	if dials != 1 {
		t.Fatalf("%d dials for the first scrape", dials)
	}
	same := base
	same.Password, same.KG = config.NewSecret("pw"), config.NewSecret("kg")
	scrape(module(same))
	if dials != 1 {
		t.Fatalf("a reload with the same settings logged in again (%d dials)", dials)
	}
	typ := reflect.TypeFor[config.SessionSettings]()
	for i := range typ.NumField() {
		changed := changedSetting(t, base, i)
		before := dials
		scrape(module(changed))
		if dials != before+1 {
			t.Errorf("changing SessionSettings.%s on reload did not log in again", typ.Field(i).Name)
		}
		scrape(module(base))
		if !changed.Equal(changedSetting(t, base, i)) || changed.Equal(base) {
			t.Errorf("SessionSettings.Equal is wrong for %s", typ.Field(i).Name)
		}
	}
}

// Every session setting reaches the session's configuration: changing one
// changes what sessionConfig builds.
func TestSessionConfigReadsEverySetting(t *testing.T) {
	base := config.SessionSettings{
		User: "u", Password: config.NewSecret("pw"), KG: config.NewSecret("kg"), Privilege: wire.PrivilegeUser,
		Driver: config.DriverLAN, CipherSuite: 3, AuthType: config.AuthTypeAuto, Lookup: config.LookupAuto, Window: 1,
	}
	typ := reflect.TypeFor[config.SessionSettings]()
	for i := range typ.NumField() {
		changed := changedSetting(t, base, i)
		if typ.Field(i).Name == "Driver" {
			changed.Driver = config.DriverLAN20
		}
		if typ.Field(i).Name == "Device" {
			// The in-band transport's setting, not the session's.
			if inBandOptions(base) == inBandOptions(changed) {
				t.Error("SessionSettings.Device does not reach inband.Options")
			}
			continue
		}
		if reflect.DeepEqual(sessionConfig("h", base), sessionConfig("h", changed)) {
			t.Errorf("SessionSettings.%s does not reach session.Config", typ.Field(i).Name)
		}
	}
}
