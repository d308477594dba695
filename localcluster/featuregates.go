package localcluster

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
)

const featureGatesFlag = "--feature-gates"

// checkFeatureGates rejects gate names that cannot be written in a
// --feature-gates flag.
func checkFeatureGates(gates map[string]bool) error {
	for name := range gates {
		if name == "" || strings.ContainsAny(name, ",= \t\n") {
			return fmt.Errorf("localcluster: feature gate name %q: want a name such as ShardedListAndWatch, without ',', '=' or spaces", name)
		}
	}
	return nil
}

// withFeatureGates returns flags with its --feature-gates flags (in the
// forms --feature-gates=A=true,B=false and --feature-gates A=true) replaced
// by one, which holds their gates and then gates, gates winning for a name
// in both, in sorted order. The merged flag takes the place of the first
// --feature-gates flag of flags, or comes last if there is none. Values that
// do not parse as name=bool are passed through as the server would read
// them, for it to report.
func withFeatureGates(flags []string, gates map[string]bool) []string {
	if len(gates) == 0 {
		return flags
	}
	merged := map[string]string{}
	var out []string
	at := -1
	for k := 0; k < len(flags); k++ {
		value, ok := strings.CutPrefix(flags[k], featureGatesFlag+"=")
		if !ok && flags[k] == featureGatesFlag && k+1 < len(flags) {
			k++
			value, ok = flags[k], true
		}
		if !ok {
			out = append(out, flags[k])
			continue
		}
		if at < 0 {
			at = len(out)
		}
		for pair := range strings.SplitSeq(value, ",") {
			name, v, _ := strings.Cut(pair, "=")
			if name = strings.TrimSpace(name); name != "" {
				merged[name] = strings.TrimSpace(v)
			}
		}
	}
	for name, on := range gates {
		merged[name] = strconv.FormatBool(on)
	}
	pairs := make([]string, 0, len(merged))
	for _, name := range slices.Sorted(maps.Keys(merged)) {
		pairs = append(pairs, name+"="+merged[name])
	}
	flag := featureGatesFlag + "=" + strings.Join(pairs, ",")
	if at < 0 {
		return append(out, flag)
	}
	return slices.Insert(out, at, flag)
}
