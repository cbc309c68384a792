package exporter

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/ipmifleet/ipmi_fleet_exporter/internal/testbed"
	"github.com/ipmifleet/ipmi_fleet_exporter/ipmi/fru"
)

// riserFRU is a second FRU device for ipmi_sim, with every area and every
// field encoding ipmitool decodes: 6-bit packed ASCII, BCD plus, binary
// and 8-bit text. (No custom fields: ipmitool prints them as "Extra",
// which ipmi_fru_info has no label for.)
func riserFRU(t *testing.T) []byte {
	t.Helper()
	packed := func(s string) fru.Field {
		f, err := fru.Packed6Field(s)
		if err != nil {
			t.Fatal(err)
		}
		return f
	}
	bcd := func(s string) fru.Field {
		f, err := fru.BCDPlusField(s)
		if err != nil {
			t.Fatal(err)
		}
		return f
	}
	img, err := fru.Encode(&fru.Info{
		Chassis: &fru.ChassisInfo{Type: 0x17, PartNumber: packed("CH-PART 9"), Serial: bcd("0123-45.67")},
		Board: &fru.BoardInfo{
			MfgDate:      time.Date(2023, 6, 15, 12, 34, 0, 0, time.UTC),
			Manufacturer: packed("ACME CORP"), Product: fru.TextField("Riser Board"), Serial: bcd("987654"),
			PartNumber: fru.Field{Type: fru.Binary, Data: []byte{0xde, 0xad, 0xbe, 0xef}},
		},
		Product: &fru.ProductInfo{
			Manufacturer: fru.TextField("ACME"), Name: packed("RISER X1"), PartNumber: fru.TextField("RX-1"),
			Version: bcd("2.1"), Serial: fru.TextField("PSN-77"), AssetTag: fru.TextField("TAG-1"),
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	return img
}

// riserSim starts ipmi_sim with the testbed's FRU 0 and riserFRU as FRU
// device 1, named by an SDR FRU device locator.
func riserSim(t *testing.T) *testbed.IPMISim {
	img := riserFRU(t)
	emu := fmt.Sprintf("mc_add_fru_data 0x20 1 %d data", len(img))
	for _, c := range img {
		emu += fmt.Sprintf(" 0x%02x", c)
	}
	locator := `sdr type 17
device_access_address 0x20
fru_device_address 1
logical_fru true
lun 0
channel_number 0
device_type 0x10
device_type_modifier 0
fru_entity_id 0x10
fru_entity_instance 1
id_string "Riser FRU"
endsdr
`
	return testbed.StartIPMISim(t, testbed.IPMISimOptions{ExtraEmu: []string{emu}, ExtraSDRs: locator})
}

// fruPrint parses ipmitool's "fru print" output: for each device (its
// "FRU Device Description" line), the fields it printed, by name.
func fruPrint(out string) map[string]map[string]string {
	devices := map[string]map[string]string{}
	var cur map[string]string
	for _, line := range strings.Split(out, "\n") {
		name, value, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		name, value = strings.TrimSpace(name), strings.TrimSpace(value)
		if name == "FRU Device Description" {
			cur = map[string]string{}
			devices[value] = cur
			continue
		}
		if cur != nil {
			cur[name] = value
		}
	}
	return devices
}

// fruLabelOf maps each field ipmitool's fru print shows to the
// ipmi_fru_info label holding it. ipmitool prints Board Mfg Date as
// ctime with a zone ("Mon Jan  1 00:00:00 2024 UTC"); the label is RFC
// 3339 in UTC, so that field is compared as a time.
var fruLabelOf = map[string]string{
	"Chassis Type":         "chassis_type",
	"Chassis Part Number":  "chassis_part_number",
	"Chassis Serial":       "chassis_serial",
	"Board Mfg Date":       "board_mfg_date",
	"Board Mfg":            "board_manufacturer",
	"Board Product":        "board_product",
	"Board Serial":         "board_serial",
	"Board Part Number":    "board_part_number",
	"Product Manufacturer": "product_manufacturer",
	"Product Name":         "product_name",
	"Product Part Number":  "product_part_number",
	"Product Version":      "product_version",
	"Product Serial":       "product_serial",
	"Product Asset Tag":    "asset_tag",
}

// TestFRUAgreesWithIpmitool: against ipmi_sim serving the testbed's FRU
// image and riserFRU, every field "ipmitool fru print" shows has the same value in the
// exporter's ipmi_fru_info, for every device ipmitool lists, and the
// exporter lists no device ipmitool does not. Devices are matched by
// their "(ID n)": ipmitool calls FRU 0 "Builtin FRU Device" and skips the
// SDR locator that names it, where the fru label takes the locator's name
// ("Chassis FRU (ID 0)" on ipmi_sim).
func TestFRUAgreesWithIpmitool(t *testing.T) {
	testbed.RequireTool(t, "ipmitool")
	sim := riserSim(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := sim.Ipmitool(ctx, "fru", "print")
	if err != nil {
		t.Fatalf("ipmitool fru print: %v\n%s", err, out)
	}
	want := fruPrint(out)
	if len(want) == 0 {
		t.Fatalf("ipmitool printed no FRU device:\n%s", out)
	}
	h := newHarness(t, moduleYAML(sim.User, sim.Password, "    privilege: admin\n    collectors: [fru]\n"))
	mfs, text := h.scrape(t, sim.Addr)
	if !allUp(t, mfs) {
		t.Fatalf("fru collector not up:\n%s", text)
	}
	got := map[string]map[string]string{}
	for _, m := range mfs["ipmi_fru_info"].GetMetric() {
		l := labels(m)
		got[fruID(l["fru"])] = l
	}
	t.Logf("ipmitool: %v\nexporter: %v", want, got)
	compared := 0
	for desc, fields := range want {
		series, ok := got[fruID(desc)]
		if !ok {
			t.Errorf("ipmitool lists FRU %q, the exporter does not (it has %v)", desc, keys(got))
			continue
		}
		for field, value := range fields {
			label, known := fruLabelOf[field]
			if !known {
				t.Errorf("FRU %q: ipmitool prints %q = %q, which no ipmi_fru_info label holds", desc, field, value)
				continue
			}
			if field == "Board Mfg Date" {
				ipmitoolTime, err := time.ParseInLocation("Mon Jan _2 15:04:05 2006 MST", value, time.Local)
				if err != nil {
					t.Errorf("FRU %q: ipmitool's %s %q: %v", desc, field, value, err)
					continue
				}
				ours, err := time.Parse(time.RFC3339, series[label])
				if err != nil || !ours.Equal(ipmitoolTime) {
					t.Errorf("FRU %q: %s: exporter %q, ipmitool %q", desc, field, series[label], value)
				}
				compared++
				continue
			}
			if series[label] != value {
				t.Errorf("FRU %q: %s: exporter %s=%q, ipmitool %q", desc, field, label, series[label], value)
			}
			compared++
		}
	}
	if len(got) != len(want) {
		t.Errorf("exporter lists FRUs %v, ipmitool %v", keys(got), keys(want))
	}
	if len(want) < 2 || compared < 25 {
		t.Fatalf("only %d fields compared:\n%s", compared, out)
	}
}

// fruID is the "(ID n)" part of a FRU device's name or description.
func fruID(name string) string {
	if i := strings.LastIndex(name, "(ID "); i >= 0 {
		return name[i:]
	}
	return name
}

func keys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}
