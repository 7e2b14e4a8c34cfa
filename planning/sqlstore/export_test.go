package sqlstore

// SetDiffScanFactor sets diffScanFactor for a test and returns what puts
// it back: 0 reads every diff of versions over one base by primary key,
// a huge factor by scanning.
func SetDiffScanFactor(f int64) (restore func()) {
	old := diffScanFactor
	diffScanFactor = f
	return func() { diffScanFactor = old }
}
