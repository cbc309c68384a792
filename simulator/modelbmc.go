package simulator

import (
	"time"

	"github.com/ipmifleet/ipmi_fleet_exporter/ipmi/wire"
	"github.com/ipmifleet/ipmi_fleet_exporter/simulator/model"
)

var _ Handler = (*model.BMC)(nil)

// controllerChecker is implemented by handlers that know which bridged
// targets exist (model.BMC does).
type controllerChecker interface {
	HasController(target wire.Target) bool
}

// Model is the state machine behind the BMC, or nil when the fleet was
// built with a handler that is not a *model.BMC.
func (b *BMC) Model() *model.BMC {
	m, _ := b.handler.(*model.BMC)
	return m
}

// ApplyFaultSpec sets the LAN-side faults and the model quirks of spec.
func (b *BMC) ApplyFaultSpec(spec FaultSpec) error {
	if err := b.SetFaults(spec.Faults); err != nil {
		return err
	}
	if m := b.Model(); m != nil {
		m.SetQuirks(spec.ModelQuirks())
	}
	return nil
}

// FaultSpec returns the BMC's faults together with its model quirks.
func (b *BMC) FaultSpec() FaultSpec {
	spec := FaultSpec{Faults: b.Faults()}
	if m := b.Model(); m != nil {
		q := m.Quirks()
		spec.SDRMaxRead, spec.EmptyReadingForAbsent = q.SDRMaxRead, q.EmptyReadingForAbsent
		q.SDRMaxRead, q.EmptyReadingForAbsent = 0, false
		spec.Quirks = q
	}
	return spec
}

// ApplyFaultSpec applies spec to every BMC of the fleet.
func (f *Fleet) ApplyFaultSpec(spec FaultSpec) error {
	if err := spec.Faults.Validate(); err != nil {
		return err
	}
	for _, b := range f.bmcs {
		if err := b.ApplyFaultSpec(spec); err != nil {
			return err
		}
	}
	return nil
}

// ModelHandlers returns a FleetConfig.NewHandler that builds model BMCs
// sharing profile p, seeded like the fleet.
func ModelHandlers(p *model.Profile, seed int64, clock func() time.Time, quirks model.Quirks) func(int) (Handler, error) {
	return func(i int) (Handler, error) {
		m, err := model.New(p, model.Options{Seed: seed, Clock: clock, Index: i})
		if err != nil {
			return nil, err
		}
		m.SetQuirks(quirks)
		return m, nil
	}
}
