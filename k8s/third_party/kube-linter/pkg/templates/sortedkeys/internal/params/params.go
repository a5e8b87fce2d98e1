package params

// Params represents the params accepted by this template.
type Params struct {
	// Recursive determines whether to check keys recursively at all nesting levels.
	// Default is true.
	Recursive bool
}
