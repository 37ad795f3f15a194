{{/* Names: every object is "<fullname>" or "<fullname>-<part>", labelled the Kubernetes way. */}}
{{- define "cloudcostguard.name" -}}
{{- .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "cloudcostguard.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 50 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 50 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "cloudcostguard.selectorLabels" -}}
app.kubernetes.io/name: {{ include "cloudcostguard.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "cloudcostguard.labels" -}}
{{ include "cloudcostguard.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{- end -}}

{{- define "cloudcostguard.serviceAccountName" -}}
{{- include "cloudcostguard.fullname" . -}}
{{- end -}}

{{- define "cloudcostguard.webhookService" -}}
{{- printf "%s-webhook" (include "cloudcostguard.fullname" .) -}}
{{- end -}}

{{- define "cloudcostguard.webhookSecret" -}}
{{- printf "%s-webhook-tls" (include "cloudcostguard.fullname" .) -}}
{{- end -}}

{{- define "cloudcostguard.metricsService" -}}
{{- printf "%s-metrics" (include "cloudcostguard.fullname" .) -}}
{{- end -}}

{{- define "cloudcostguard.metricsSecret" -}}
{{- printf "%s-metrics-tls" (include "cloudcostguard.fullname" .) -}}
{{- end -}}

{{- define "cloudcostguard.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}
