package api

// The OpenAPI description in docs/ is generated from the swag annotations in
// this package. Run `go generate ./api` after changing a handler or a DTO and
// commit the result; TestDocsUpToDate regenerates it and fails when the
// committed files differ. The command, run from the repository root, is
//
//	go tool swag init --generalInfo doc.go --dir api --output docs --outputTypes go,json,yaml --packageName docs
//
// and `go tool swag fmt --dir api` keeps the annotations tidy.

//go:generate sh -c "cd .. && go tool swag fmt --dir api && go tool swag init --quiet --generalInfo doc.go --dir api --output docs --outputTypes go,json,yaml --packageName docs"
