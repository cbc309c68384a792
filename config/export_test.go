package config

// FixtureCatalog is the fixture catalog of this package's tests, for the
// external test that holds it to the real one (catalog_real_test.go).
var FixtureCatalog = testCatalog
