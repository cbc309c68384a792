package main

import "testing"

func TestParseSums(t *testing.T) {
	body := "# HELP x\nipmi_fleet_exporter_requests_total{command=\"a\",result=\"ok\"} 3\n" +
		"ipmi_fleet_exporter_requests_total{command=\"b\",result=\"ok\"} 4.5\n" +
		"ipmi_fleet_exporter_requests_total_other 100\nipmi_fleet_exporter_retransmits_total 2\n"
	got := parseSums(body, []string{"ipmi_fleet_exporter_requests_total", "ipmi_fleet_exporter_retransmits_total"})
	if got["ipmi_fleet_exporter_requests_total"] != 7.5 || got["ipmi_fleet_exporter_retransmits_total"] != 2 {
		t.Fatalf("%v", got)
	}
}
