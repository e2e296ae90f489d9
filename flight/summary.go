package flight

// BucketRef names one bucket of a view: a group over one hour (Unix seconds
// of the hour's start).
type BucketRef struct {
	View  string
	Group string
	Hour  int64
}

// Quantile is one served percentile.
type Quantile struct {
	Q     float64 `json:"q"`
	Name  string  `json:"name"` // "p50"
	Value float64 `json:"value"`
}

// Summary is a sketched summary of one group over one or more hours, as the
// speed layer keeps it: exact stats, sketch quantiles, estimated distinct
// destinations. It is the type the layers exchange (the speed layer produces
// it, serving and the batch layer's reconciliation consume it), so that
// neither needs the other's packages.
type Summary struct {
	View  string `json:"view"`
	Group string `json:"group"`
	// From and To are the first and last hour covered (equal for one bucket).
	From, To int64 `json:"-"`
	Stats
	// Quantiles are within RelativeError·|exact| of the exact nearest-rank
	// quantiles (Percentiles()); empty when Count is 0.
	Quantiles     []Quantile `json:"quantiles"`
	RelativeError float64    `json:"relative_error"`
	// Distinct is the number of distinct destinations (exact in both
	// layers), -1 for views that do not count them.
	Distinct int64       `json:"distinct"`
	Sketch   DelaySketch `json:"-"`
}

// Bin is one non-empty bin of a DelaySketch and its count.
type Bin struct {
	Bin int32
	N   int64
}

// SketchedBucket is one bucket of the speed layer as its bulk reader hands
// it over, without maps: the exact stats, the sketch's non-empty bins in
// increasing order and, for views that count them, the distinct
// destinations sorted (empty otherwise). The reconciliation compares millions
// of them with the batch view; a reader reuses its slices from one bucket to
// the next, so a caller copies what it keeps.
type SketchedBucket struct {
	Stats
	Bins  []Bin
	Dests []string
}
