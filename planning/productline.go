package planning

import (
	"context"
	"slices"
	"time"
)

// ProductGroup groups product lines the way the marketing department is
// organised: industry, commercial/home and agency products.
type ProductGroup string

// The product groups of the deck.
const (
	GroupIndustry       ProductGroup = "industry"
	GroupCommercialHome ProductGroup = "commercial_home"
	GroupAgency         ProductGroup = "agency"
)

// ProductGroups lists every group in a stable order.
var ProductGroups = []ProductGroup{GroupIndustry, GroupCommercialHome, GroupAgency}

// Valid reports whether g is a known group.
func (g ProductGroup) Valid() bool { return slices.Contains(ProductGroups, g) }

// ProductLine is a line of products with one owning product manager, who sets
// and cascades its targets.
type ProductLine struct {
	ID        int64
	Code      string
	Name      string
	NameLocal string
	Group     ProductGroup
	OwnerID   *int64 // the owning product manager's user id
	Active    bool
	Revision  int64
	CreatedAt time.Time
	UpdatedAt time.Time
}

// Validate checks the fields a caller sets.
func (p *ProductLine) Validate() error {
	var v Validation
	validateCode(&v, "code", p.Code)
	validateName(&v, "name", p.Name, true)
	validateName(&v, "name_local", p.NameLocal, false)
	if !p.Group.Valid() {
		v.Add("group", "must be one of %v", ProductGroups)
	}
	return v.Err()
}

// ProductLineFilter selects product lines. Zero fields do not filter.
type ProductLineFilter struct {
	IDs     []int64
	Code    string
	Codes   []string
	Group   ProductGroup
	OwnerID *int64
	Active  *bool
	Page    PageRequest
}

// ProductLineUpdate is a change to a product line; nil fields stay.
type ProductLineUpdate struct {
	Name      *string
	NameLocal *string
	Group     *ProductGroup
	OwnerID   *int64 // 0 clears the owner
	Active    *bool
	IfMatch   *int64
}

// ProductLineService manages product lines. Everybody signed in reads them.
type ProductLineService interface {
	// FindProductLineByID returns one line or ENOTFOUND.
	FindProductLineByID(ctx context.Context, id int64) (*ProductLine, error)
	// FindProductLines returns a page of lines ordered by code.
	FindProductLines(ctx context.Context, filter ProductLineFilter) ([]*ProductLine, string, error)
	// CreateProductLine needs a master-data manager. The owner, if set, must
	// be an active user holding the product_manager role (EINVALID).
	CreateProductLine(ctx context.Context, p *ProductLine) error
	// UpdateProductLine needs a master-data manager or the owning product
	// manager (EFORBIDDEN); only master-data managers change the owner.
	UpdateProductLine(ctx context.Context, id int64, upd ProductLineUpdate) (*ProductLine, error)
}
