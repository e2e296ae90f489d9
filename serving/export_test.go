package serving

import "context"

// SetBeforeCompute makes fn run before each computation of a read request's
// answer, within its deadline: a test holds the computations there to prove
// that concurrent requests share them.
func SetBeforeCompute(s *Server, fn func(ctx context.Context, endpoint string)) { s.beforeCompute = fn }
