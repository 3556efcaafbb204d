package model

import "testing"

func TestDecodeErrorNamesArrayIndexes(t *testing.T) {
	for in, want := range map[string]string{
		`{"id": "11111111-1111-4111-8111-111111111111", "ports": [{"id": "a"}, {"id": 5}]}`: "ports[1].id",
		`{"id": "11111111-1111-4111-8111-111111111111", "subnets": [{"ip_version": "4"}]}`:  "subnets[0].ip_version",
		`{"id": 7}`: "id",
		`{"id": "x", "ports": [{"fixed_ips": [{"subnet_id": "s"}, {"subnet_id": "s", "ip_address": []}]}]}`: "ports[0].fixed_ips[1].ip_address",
		`{"mtu": "1500"}`: "mtu",
	} {
		_, err := DecodeNetwork([]byte(in))
		ve, ok := err.(*ValidationError)
		if !ok || ve.Path != want {
			t.Errorf("%s: got %v, want path %s", in, err, want)
		}
	}
}
