package informer

// reconcileOptions are the options of a Reconcile registration.
type reconcileOptions struct{}
