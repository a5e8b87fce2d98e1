package params

// Params represents the params accepted by this template.
type Params struct {
	// Annotation specifies the required annotation to match.
	// +required
	Annotation string
}
