package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"strings"

	"github.com/cascade-planning/cascade/api"
)

// runOpenAPI prints the API's OpenAPI 3 document, as GET /openapi.json
// serves it, for generating clients or linting without a running server.
func runOpenAPI(args []string, stdout, stderr io.Writer) error {
	fs, _ := newFlagSet("openapi", stderr)
	base := fs.String("base-url", "", "scheme and host clients reach the server at, e.g. https://plan.example.com (env CASCADE_BASE_URL; default: the server URL is the base path alone)")
	if err := parse(fs, args); err != nil {
		return err
	}
	doc, err := api.OpenAPIDocument()
	if err != nil {
		return err
	}
	if *base != "" {
		if err := checkBaseURL(*base); err != nil {
			return err
		}
		doc.Servers[0].URL = strings.TrimRight(*base, "/") + doc.Servers[0].URL
	}
	b, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(stdout, "%s\n", b)
	return err
}

// checkBaseURL accepts an absolute http or https URL without query or
// fragment.
func checkBaseURL(s string) error {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		return fmt.Errorf("--base-url %q: want an absolute http or https URL such as https://plan.example.com", s)
	}
	return nil
}
