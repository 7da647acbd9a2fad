"""Reading results: tables, research questions, significance, explanations and generated docs."""
