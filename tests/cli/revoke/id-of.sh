# id_of DOMAIN BUNDLE: the id of the indicator for DOMAIN in BUNDLE, "" when none.
id_of() { jq -r --arg p "[domain-name:value = '$1']" '.objects[] | select(.pattern == $p) | .id' "$2"; }
