package localcluster

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestWithFeatureGates(t *testing.T) {
	tests := []struct {
		name  string
		flags []string
		gates map[string]bool
		want  []string
	}{
		{
			name:  "no gates leaves the flags alone",
			flags: []string{"--v=2", "--feature-gates=A=true"},
			want:  []string{"--v=2", "--feature-gates=A=true"},
		},
		{
			name:  "gates alone, sorted",
			gates: map[string]bool{"ShardedListAndWatch": true, "AnonymousAuthConfigurableEndpoints": false},
			want:  []string{"--feature-gates=AnonymousAuthConfigurableEndpoints=false,ShardedListAndWatch=true"},
		},
		{
			name:  "after the other flags",
			flags: []string{"--v=2"},
			gates: map[string]bool{"B": true},
			want:  []string{"--v=2", "--feature-gates=B=true"},
		},
		{
			name:  "merged with the user's flags, the field winning, in place of the first",
			flags: []string{"--v=2", "--feature-gates=A=true,B=true", "--audit-log-path=-", "--feature-gates", "C=false, D=true", "--max-requests-inflight=10"},
			gates: map[string]bool{"B": false, "E": true},
			want:  []string{"--v=2", "--feature-gates=A=true,B=false,C=false,D=true,E=true", "--audit-log-path=-", "--max-requests-inflight=10"},
		},
		{
			name:  "a malformed value is passed on for the server to report",
			flags: []string{"--feature-gates=A"},
			gates: map[string]bool{"B": true},
			want:  []string{"--feature-gates=A=,B=true"},
		},
		{
			name:  "a dangling flag name is left for the server to report",
			flags: []string{"--feature-gates"},
			gates: map[string]bool{"B": true},
			want:  []string{"--feature-gates", "--feature-gates=B=true"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := withFeatureGates(tt.flags, tt.gates)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("withFeatureGates(%q, %v) (-want +got):\n%s", tt.flags, tt.gates, diff)
			}
		})
	}
}

func TestAPIServerArgsFeatureGates(t *testing.T) {
	c := &Cluster{opts: Options{
		APIServerFlags: []string{"--feature-gates=A=true"},
		FeatureGates:   map[string]bool{"ShardedListAndWatch": true},
	}}
	args := c.apiServerArgs()
	var gates []string
	for _, arg := range args {
		if strings.HasPrefix(arg, "--feature-gates") {
			gates = append(gates, arg)
		}
	}
	if want := []string{"--feature-gates=A=true,ShardedListAndWatch=true"}; !cmp.Equal(gates, want) {
		t.Errorf("--feature-gates flags of kube-apiserver: got %q, want %q", gates, want)
	}
	if last := args[len(args)-1]; last != "--feature-gates=A=true,ShardedListAndWatch=true" {
		t.Errorf("last flag: got %q, want the merged --feature-gates after localcluster's own", last)
	}
}

func TestCheckFeatureGates(t *testing.T) {
	tests := []struct {
		name    string
		gates   map[string]bool
		wantErr bool
	}{
		{name: "none", gates: nil},
		{name: "a gate", gates: map[string]bool{"ShardedListAndWatch": true}},
		{name: "empty name", gates: map[string]bool{"": true}, wantErr: true},
		{name: "comma", gates: map[string]bool{"A,B": true}, wantErr: true},
		{name: "equals", gates: map[string]bool{"A=B": true}, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := checkFeatureGates(tt.gates); (err != nil) != tt.wantErr {
				t.Errorf("checkFeatureGates(%v): got %v, want an error: %v", tt.gates, err, tt.wantErr)
			}
		})
	}
}
