#!/bin/sh
# A platform with only HTTP (curl): submit a MultiCloudMongoDB, print each change of it, stop once it is Health.
#
#   FEDSTATE_SERVER=http://127.0.0.1:8080 FEDSTATE_TOKEN=$(cat .fedstate/token) \
#       sh docs/examples/platform-over-http.sh rs1.yaml rs1
#
# FEDSTATE_TOKEN is an editor's (or admin's) token: `fedstate token create --tenant default --role editor`.
# The manifest is one YAML (or JSON) document. See docs/platform-api.md.
set -eu
SERVER=${FEDSTATE_SERVER:-http://127.0.0.1:8080}
MANIFEST=${1:?usage: platform-over-http.sh MANIFEST NAME}
NAME=${2:?usage: platform-over-http.sh MANIFEST NAME}
AUTH="Authorization: Bearer ${FEDSTATE_TOKEN:?set FEDSTATE_TOKEN to an API token}"
API="$SERVER/apis/middleware.fedstate.io/v1alpha1/namespaces/default/multicloudmongodbs"

# 1. Submit: PUT creates or replaces, through the same intake as every writer; a refusal is a Kubernetes Status.
curl -sS --fail-with-body -X PUT -H "$AUTH" -H 'Content-Type: application/yaml' --data-binary "@$MANIFEST" "$API/$NAME" >/dev/null
echo "applied $NAME"

# 2. Follow: a watch of this object while it is not Health, so it leaves the selection (DELETED) once it is.
#    Each line is {"type": ..., "object": ...}; bookmarks keep the connection alive. (The state is cut out with
#    sed to stay with curl alone; a real client parses the JSON.)
SELECTOR="metadata.name%3D$NAME,status.state!%3DHealth"
curl -sSN -H "$AUTH" "$API?watch=true&allowWatchBookmarks=true&fieldSelector=$SELECTOR" | while read -r event; do
    type=${event#*'"type":"'}
    type=${type%%'"'*}
    state=$(printf '%s\n' "$event" | sed -n 's/.*"state":"\([A-Za-z]*\)".*/\1/p')
    case $type in
        BOOKMARK) ;;
        DELETED) [ "$state" = Health ] && { echo "$NAME is Health"; exit 0; }; echo "$NAME was deleted"; exit 1 ;;
        *) echo "$type ${state:-Pending}" ;;
    esac
done
