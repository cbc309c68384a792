package config

import (
	"fmt"
	"path/filepath"
)

// InBand reports whether the module reads the local BMC through the
// kernel's IPMI driver (driver OPENIPMI) rather than a BMC on the network:
// it has no targets, no session and no credentials.
func (s SessionSettings) InBand() bool { return s.Driver == DriverOpenIPMI }

// inBand checks the device key and, for an in-band module, the keys that
// only mean something over the network.
//
// Credentials are refused: an in-band module logs in to nothing, so a
// password in it is one more copy of a secret with nothing to protect, and
// most likely a LAN module given the wrong driver. The other network-only
// settings (user, privilege, cipher suite, lookup, allowed_targets) load
// with a warning and are dropped, as ipmi_exporter's users' files carry
// them from a remote module.
func (p *parser) inBand(ctx string, m *Module, fm *fileModule) {
	if fm.Device.Err != nil {
		p.errorf(fm.Device.Line, fm.Device.Err, "%s: device: %v", ctx, fm.Device.Err)
	} else if fm.Device.Set {
		dev := string(fm.Device.V)
		switch {
		case !m.InBand():
			p.errorf(max(fm.Device.Line, fm.Driver.Line), nil, "%s: device applies only to driver %s (the local BMC in band); driver is %s", ctx, DriverOpenIPMI, m.Driver)
		case dev == "":
			p.errorf(fm.Device.Line, nil, "%s: device: empty path (leave the key out to try /dev/ipmi0, /dev/ipmi/0 and /dev/ipmidev/0)", ctx)
		case !filepath.IsAbs(dev):
			p.errorf(fm.Device.Line, nil, "%s: device: %q is not an absolute path (the IPMI device file, e.g. /dev/ipmi0)", ctx, truncateForError(dev))
		default:
			// Not checked for existence: the exporter starts and serves
			// its other modules without it, and says at each scrape
			// what is missing.
			m.Device = filepath.Clean(dev)
		}
	}
	if !m.InBand() {
		return
	}
	refused := []struct {
		key string
		f   field[bool]
	}{
		{"pass", present(fm.Pass)}, {"pass_file", present(fm.PassFile)},
		{"kg", present(fm.KG)}, {"kg_file", present(fm.KGFile)},
		{"credentials_file", present(fm.CredentialsFile)},
	}
	for _, r := range refused {
		if r.f.Set {
			p.errorf(r.f.Line, nil, "%s: %s: driver %s reads the local BMC through the kernel and needs no credentials; remove %s (or use driver LAN_2_0 for a BMC on the network)", ctx, r.key, DriverOpenIPMI, r.key)
		}
	}
	ignored := []struct {
		key string
		f   field[bool]
	}{
		{"user", present(fm.User)}, {"privilege", present(fm.Privilege)},
		{"cipher_suite", present(fm.CipherSuite)}, {"name_only_lookup", present(fm.NameOnlyLookup)},
		{"allowed_targets", present(fm.AllowedTargets)},
	}
	for _, i := range ignored {
		if i.f.Set {
			p.warnf(i.f.Line, "%s: %s applies to BMCs on the network; ignored for driver %s (the local BMC, no session)", ctx, i.key, DriverOpenIPMI)
		}
	}
	// Dropped, so that nothing reads them and a reload that changes
	// only them does not reopen the device.
	def := newModule(m.Name, p.catalog)
	m.User, m.Privilege, m.CipherSuite, m.Lookup = "", def.Privilege, def.CipherSuite, def.Lookup
	m.AllowedTargets, m.allowed = nil, allowList{}
}

// present is whether a key was written and where, whatever its value.
func present[T any](f field[T]) field[bool] { return field[bool]{V: f.Set, Line: f.Line, Set: f.Set} }

// dropLANKeys leaves out of a dump the keys an in-band module does not
// have (they would load with a warning).
func (f *fileModule) dropLANKeys() {
	f.User, f.Privilege, f.CipherSuite, f.NameOnlyLookup = field[text]{}, field[privilege]{}, field[CipherSuite]{}, field[LookupMode]{}
	f.AuthType, f.AllowedTargets = field[AuthType]{}, field[list[text]]{}
	f.Pass, f.PassFile, f.KG, f.KGFile, f.CredentialsFile = field[Secret]{}, field[text]{}, field[Secret]{}, field[text]{}, field[text]{}
}

// InBandModule returns the module called name if it is an in-band one
// (what --local.module names), or an error saying why it is not.
func (c *Config) InBandModule(name string) (*Module, error) {
	m, ok := c.Module(name)
	switch {
	case !ok:
		return nil, fmt.Errorf("module %q is not defined in %s; the local module needs one with driver: %s", name, c.File, DriverOpenIPMI)
	case !m.InBand():
		return nil, fmt.Errorf("module %q has driver %s; the local module reads this machine's BMC in band and needs driver: %s", name, m.Driver, DriverOpenIPMI)
	}
	return m, nil
}
