package operators

import "github.com/conveyor-etl/conveyor/plugin"

func init() { plugin.MustRegister(Specs()...) }

// Specs are the functions this package registers.
func Specs() []*plugin.Spec {
	return []*plugin.Spec{FilterSpec(), FilterExprSpec(), FieldsSelectSpec(), FieldsDropSpec(),
		FieldsRenameSpec(), FieldsSetSpec(), JSONExtractSpec(), WindowAggregateSpec(), DedupeSpec()}
}
