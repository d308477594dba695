package shard

import (
	"fmt"
	"hash/fnv"
	"math/bits"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// MaxRanges is the largest number of ranges the hash space may be cut into.
const MaxRanges = 1024

// Key is the object field whose FNV-1a 64 hash places an object in a range:
// the field path the server's shardRange() takes as its first argument.
type Key string

const (
	// ByUID spreads objects by metadata.uid: the finest split, the default.
	ByUID Key = "object.metadata.uid"
	// ByNamespace keeps all objects of a namespace in one range. Every
	// cluster-scoped object has namespace "" and so lands in the one range
	// of Hash("").
	ByNamespace Key = "object.metadata.namespace"
)

// valid reports whether the server accepts k.
func (k Key) valid() bool { return k == ByUID || k == ByNamespace }

// hashTop is the exclusive upper bound of the hash space, 2^64, as the
// server spells it: the only bound with 17 hex digits.
const hashTop = "0x10000000000000000"

// checkCount panics unless 1 <= n <= MaxRanges: a count out of bounds is a
// programming error of the caller, which validates its configuration.
func checkCount(n int) {
	if n < 1 || n > MaxRanges {
		panic(fmt.Sprintf("shard: range count %d out of bounds [1, %d]", n, MaxRanges))
	}
}

// checkRange panics unless 0 <= i < n.
func checkRange(i, n int) {
	checkCount(n)
	if i < 0 || i >= n {
		panic(fmt.Sprintf("shard: range %d out of bounds [0, %d)", i, n))
	}
}

// start returns the first hash of range i of n, ceil(i·2^64/n), for
// 0 <= i < n (the value always fits in 64 bits then).
func start(i, n int) uint64 {
	quo, rem := bits.Div64(uint64(i), 0, uint64(n))
	if rem != 0 {
		quo++
	}
	return quo
}

// Bounds returns range i of n as the inclusive start and exclusive end that
// shardRange() takes: "0x" and 16 lowercase hex digits, except the end of the
// last range, which is "0x10000000000000000" (2^64). It panics unless
// 1 <= n <= [MaxRanges] and 0 <= i < n.
func Bounds(i, n int) (startHex, endHex string) {
	checkRange(i, n)
	return hexBound(i, n), hexBound(i+1, n)
}

// hexBound returns the start of range i of n, or 2^64 for i == n.
func hexBound(i, n int) string {
	if i == n {
		return hashTop
	}
	return fmt.Sprintf("0x%016x", start(i, n))
}

// RangeOf returns the range of n that holds hash: the i with
// ceil(i·2^64/n) <= hash < ceil((i+1)·2^64/n), which is floor(hash·n/2^64).
// It panics unless 1 <= n <= [MaxRanges].
func RangeOf(hash uint64, n int) int {
	checkCount(n)
	hi, _ := bits.Mul64(hash, uint64(n))
	return int(hi)
}

// Hash returns the FNV-1a 64 hash of value, the number the server compares
// with the bounds: sharding.HashField(value) parsed as hex.
func Hash(value string) uint64 {
	h := fnv.New64a()
	_, _ = h.Write([]byte(value)) // a hash.Hash never fails to write
	return h.Sum64()
}

// KeyValue returns the value of obj's field that key names: its UID or its
// namespace ("" for a cluster-scoped object). It panics for a key other than
// [ByUID] and [ByNamespace].
func KeyValue(obj metav1.Object, key Key) string {
	switch key {
	case ByUID:
		return string(obj.GetUID())
	case ByNamespace:
		return obj.GetNamespace()
	default:
		panic(fmt.Sprintf("shard: unsupported key %q", string(key)))
	}
}

// ObjectRange returns the range of n that obj falls in when split by key,
// the same one the server's selector for that range matches.
func ObjectRange(obj metav1.Object, key Key, n int) int {
	return RangeOf(Hash(KeyValue(obj, key)), n)
}
