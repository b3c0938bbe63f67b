;; Run once at image build, to record what a typical snippet makes the JVM
;; load and link (Clojure's core and compiler, strings, collections,
;; formatting, reading stdin) into an ahead-of-time cache.
(require '[clojure.string :as str]
         '[clojure.set :as set]
         '[clojure.pprint :refer [pprint]])

(defrecord Point [x y])
(defprotocol Area (area [s]))
(extend-protocol Area Point (area [p] (* (:x p) (:y p))))

(defn fizzbuzz [n]
  (cond (zero? (mod n 15)) "FizzBuzz"
        (zero? (mod n 3)) "Fizz"
        (zero? (mod n 5)) "Buzz"
        :else n))

(println (map fizzbuzz (range 1 16)))
(println (area (->Point 3 4)) (format "%5.2f|%-4s|" 3.14159 "x"))
(pprint (frequencies (str/split "a b a c b a" #" ")))
(println (set/union #{1 2} #{2 3}) (reduce + (filter odd? (range 10))))
(let [a (atom 0)] (dotimes [_ 3] (swap! a inc)) (println @a))
(doseq [line (line-seq (java.io.BufferedReader. *in*))]
  (println (str/upper-case line)))
(try (/ 1 0) (catch ArithmeticException e (println (.getMessage e))))
