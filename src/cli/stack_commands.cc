// Placeholder: `overmesh stack …` (issue 11).
