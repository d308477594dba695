// Package shard holds the pure arithmetic of sharding: how the 64-bit hash
// space of kube-apiserver's shard selectors (KEP-5866, ListOptions.ShardSelector)
// is cut into a fixed number of equal ranges, how those ranges are written as
// a selector the server accepts, and how the live members of a group divide
// the ranges among themselves so that every member computes the same owners.
//
// Nothing here talks to a server. The pieces:
//
//   - ranges.go: range i of n is [ceil(i·2^64/n), ceil((i+1)·2^64/n)); [Bounds]
//     gives it as the server's hex strings, [RangeOf] finds the range of a
//     hash, [Hash] is the server's FNV-1a 64, [ObjectRange] the range of an
//     object for a [Key].
//   - selector.go: [Selector] builds a sharding.Selector for a set of ranges.
//   - validate.go: [Validate] checks a selector string against the server's
//     grammar (the server answers a malformed one with HTTP 500, so we check
//     first).
//   - assign.go: [Assign] computes the owner of every range from the live
//     members and the current owners, balanced and moving as little as
//     possible; [Epoch] names a member set in logs and status.
//   - rangeset.go: [FormatRanges] and [ParseRanges], the compact form
//     ("0-3,7,12") written into Lease annotations.
//
// Every function is safe for concurrent use: none keeps state.
package shard
